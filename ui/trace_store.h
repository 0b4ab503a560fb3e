// The records of one run on the UI side: what the plots, the CSV export and a pinned comparison read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "step_record.h"

namespace stepscope::ui {

// A run stops recording (with a message) when its traces pass this.
constexpr std::size_t kMaxTraceBytes = std::size_t(2) << 30;

class TraceStore {
public:
    // A new run: no records, starting after `info.base_step`.
    void start(const RunInfo& info);
    // Records in step order; attention weights older than the heatmap window are dropped.
    void append(const std::vector<StepRecord>& records);
    // Keeps the records up to and including `step`: the run branched there.
    void truncate(int64_t step);
    // Records from now on follow another batch element (after a truncation that re-records them).
    void set_observed(int element) { info_.observed = element; }

    const RunInfo& info() const { return info_; }
    bool has_run() const { return info_.model != nullptr; }
    const std::vector<StepRecord>& records() const { return records_; }
    int size() const { return static_cast<int>(records_.size()); }
    bool empty() const { return records_.empty(); }
    int64_t base_step() const { return info_.base_step; }
    int64_t last_step() const { return records_.empty() ? info_.base_step : records_.back().step; }
    // The memory the records hold, roughly: what kMaxTraceBytes bounds.
    std::size_t bytes() const { return bytes_; }
    bool full() const { return bytes_ > kMaxTraceBytes; }
    // The record of `step`, or null when the run has none (before its start, or not taken yet).
    const StepRecord* at_step(int64_t step) const;

    // The model's shape, for selectors and labels.
    int layers() const;
    int heads(AttentionRole role) const;
    int width() const;  // d_model
    bool decoder() const;
    bool linear(AttentionRole role) const;

private:
    RunInfo info_;
    std::vector<StepRecord> records_;
    size_t attention_kept_from_ = 0;  // records before this index hold no attention weights
    std::size_t bytes_ = 0;
};

}  // namespace stepscope::ui
