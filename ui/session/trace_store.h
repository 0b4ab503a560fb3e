// The records of one run on the UI side: what the plots, the CSV export and a pinned comparison read.
//
// Every batch element's records are kept (BatchRecord), and the shown element's slice beside them
// (StepRecord, what the plots read): showing another element re-slices, it never steps again.
// Memory per step, float32: N x (E + 1 + 2 x H x modules) values, plus the shown slice; the seed
// example (N 10, E 384, 8 layers of 12 heads) takes about 28 KB a step, so the 2 GB cap holds
// about 77,000 steps. Full attention adds the heatmap's weights for its window of steps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "session/step_record.h"
#include "stepscope/config.h"

namespace stepscope::ui {

// A run stops recording (with a message) when its traces pass this, or trace_budget() where less.
constexpr std::size_t kMaxTraceBytes = std::size_t(2) << 30;
// The heatmap's weights of every element are kept for fewer than kAttentionWindow steps when they
// would pass this (many heads, a large batch).
constexpr std::size_t kMaxAttentionBytes = std::size_t(512) << 20;

// What a run's traces may hold: the memory limit less the window itself (256 MiB), the model, two
// copies of its state, a step's scratch and the checkpoints' budget, at most kMaxTraceBytes (0 when
// those alone fill the limit).
std::size_t trace_budget(const ModelConfig& config, int batch);

class TraceStore {
public:
    // A new run: no records, starting after `info.base_step`, within `max_bytes`.
    void start(const RunInfo& info, std::size_t max_bytes = kMaxTraceBytes);
    // Records in step order; attention weights older than the heatmap window are dropped.
    void append(const std::vector<BatchRecord>& records);
    // A shown_only() copy: appends the shown element's slices of `records` (a branch's original stepping on).
    void append_shown(const std::vector<BatchRecord>& records);
    // Keeps the records up to and including `step`: the run branched there.
    void truncate(int64_t step);
    // Shows batch element `element` (0 .. batch - 1): the slices are cut again from what was recorded.
    void set_observed(int element);
    // Adds what a view recomputed after the fact (view_recompute.h) to the shown element's records at those
    // steps: attention rows and capacity of a layer replace any held, a read-back fills the step's. Records of
    // another element than the one shown are left out (showing that element asks for them again).
    void add_observed(const std::vector<BatchRecord>& recomputed);
    // Keeps about `count` records, evenly spaced, plus the heatmap's window of the newest steps: a run
    // of any length then takes bounded memory, drawn at a coarser step (the headless export's plots).
    void keep_at_most(std::size_t count);
    // A copy holding the shown element's records only: what a pinned comparison draws, at 1/N the memory.
    TraceStore shown_only() const;

    const RunInfo& info() const { return info_; }
    bool has_run() const { return info_.model != nullptr; }
    // The shown element's records, in step order.
    const std::vector<StepRecord>& records() const { return records_; }
    // Every element's records, index for index with records(); empty in a shown_only() copy.
    const std::vector<BatchRecord>& batch_records() const { return batch_records_; }
    int size() const { return static_cast<int>(records_.size()); }
    bool empty() const { return records_.empty(); }
    int64_t base_step() const { return info_.base_step; }
    int64_t last_step() const { return records_.empty() ? info_.base_step : records_.back().step; }
    // The memory the records hold, roughly: what kMaxTraceBytes bounds.
    std::size_t bytes() const { return bytes_; }
    bool full() const { return bytes_ > max_bytes_; }
    std::size_t max_bytes() const { return max_bytes_; }
    // The record of `step`, or null when the run has none (before its start, not taken yet, or thinned out).
    const StepRecord* at_step(int64_t step) const;

    // The model's shape, for selectors and labels.
    int layers() const;
    int heads(AttentionRole role) const;
    int width() const;  // d_model
    bool decoder() const;
    bool linear(AttentionRole role) const;
    // What the run's attention of `role` keeps and shows (attention_kind.h); the run must have a model.
    const AttentionCapabilities& kind(AttentionRole role) const;

private:
    // Drops the attention weights of records that left the heatmap's window or its byte budget.
    void trim_attention();
    // Applies keep_at_most's bound, doubling the stride while there are too many records.
    void thin();
    // Drops the records older than the heatmap's window whose step is off the stride.
    void drop_off_stride();
    void drop_attention(std::size_t index);

    RunInfo info_;
    std::vector<StepRecord> records_;
    std::vector<BatchRecord> batch_records_;
    std::size_t attention_kept_from_ = 0;  // records before this index hold no attention weights
    std::size_t attention_bytes_ = 0;
    std::size_t bytes_ = 0;
    std::size_t max_bytes_ = kMaxTraceBytes;
    std::size_t max_records_ = std::numeric_limits<std::size_t>::max();
    int64_t stride_ = 1;  // with keep_at_most: the steps kept before the window are multiples of this
};

}  // namespace stepscope::ui
