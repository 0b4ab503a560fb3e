// The records of one run on the UI side: what the plots, the CSV export and the run tree read; a branch shares its
// parent's.
//
// Every batch element's outputs and norms are kept in one block of floats per step (step_layout.h);
// the plots read the shown element's StepRecord, a view built on each read, so showing another
// element re-reads, it never steps again. Memory per step: N x (E + 1 + 2 x H x modules) floats, a
// word per module and a 40-byte head; the seed example (E 384, 8 layers of 12 heads) takes 2,380
// bytes a step at batch 1 and 23,152 at batch 10, so the 2 GB cap holds about 900,000 or 92,000
// steps. Full attention adds the heatmap's weights for its window of steps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "session/step_record.h"
#include "session/trace_columns.h"
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
    TraceStore();
    TraceStore(const TraceStore& other);
    TraceStore& operator=(const TraceStore& other);
    // A new run: no records, starting after `info.base_step`, within `max_bytes`.
    void start(const RunInfo& info, std::size_t max_bytes = kMaxTraceBytes);
    // A branch of `parent` at `step` (parent.base_step() .. parent.last_step()): it shows the parent's
    // records up to that step without copying them, then its own. `parent` must outlive this store
    // and keep its records up to `step` (a run's records are only ever appended to).
    void start_branch(const TraceStore& parent, int64_t step, const RunInfo& info,
                      std::size_t max_bytes = kMaxTraceBytes);
    // Records in step order; attention weights older than the heatmap window are dropped.
    void append(const std::vector<BatchRecord>& records);
    // Shows batch element `element` (0 .. batch - 1): the slices are cut again from what was recorded.
    void set_observed(int element);
    // Adds what a view recomputed after the fact (view_recompute.h) to the shown element's records at those
    // steps: attention rows and capacity of a layer replace any held, a read-back fills the step's. Records of
    // another element than the one shown are left out (showing that element asks for them again).
    void add_observed(const std::vector<BatchRecord>& recomputed);
    // Keeps about `count` records, evenly spaced, plus the heatmap's window of the newest steps: a run
    // of any length then takes bounded memory, drawn at a coarser step (the headless export's plots).
    void keep_at_most(std::size_t count);

    const RunInfo& info() const { return info_; }
    bool has_run() const { return info_.model != nullptr; }
    // The shown element's records, in step order, a branch's parent's first (views, built on each read).
    const RecordSpan<StepRecord>& records() const { return span_; }
    // Every element's records, index for index with records() (copies, built on each read).
    const RecordSpan<BatchRecord>& batch_records() const { return batch_span_; }
    int size() const { return static_cast<int>(span_.size()); }
    bool empty() const { return span_.empty(); }
    int64_t base_step() const { return info_.base_step; }
    int64_t last_step() const { return records_.empty() ? branch_step_ : records_.head(records_.size() - 1).step; }
    // A branch: the step it left its parent at (its parent's records up to it are shown as its own);
    // base_step() for a run of its own.
    int64_t branch_step() const { return branch_step_; }
    // The records this run holds itself, after its branch step.
    int own_size() const { return static_cast<int>(records_.size()); }
    // The memory the run's own records hold: what kMaxTraceBytes bounds (shared records are counted
    // once, by the run that holds them): their blocks and heads, and their observations.
    std::size_t bytes() const { return records_.bytes() + observation_bytes_; }
    // What every kept step costs at least, its block and head (StepLayout::step_bytes); 0 before the first.
    std::size_t step_bytes() const { return records_.empty() ? 0 : records_.layout().step_bytes(); }
    // Steps held per chunk (about 1 MiB): the chunks' bookkeeping is all bytes() adds to the steps' cost.
    std::size_t chunk_steps() const { return records_.chunk_steps(); }
    bool full() const { return bytes() > max_bytes_; }
    std::size_t max_bytes() const { return max_bytes_; }
    // The record of `step`, or none when the run has none (before its start, not taken yet, or thinned out).
    std::optional<StepRecord> at_step(int64_t step) const;

    // The model's shape, for selectors and labels.
    int layers() const;
    int heads(AttentionRole role) const;
    int width() const;  // d_model
    bool decoder() const;
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
    // Points the spans at this store's own records after the shared pieces.
    void rebuild_spans(std::vector<RecordSpan<StepRecord>::Piece> shared = {},
                       std::vector<RecordSpan<BatchRecord>::Piece> batch_shared = {});

    // Observations of own record `index`, freed when it has none left.
    StepObservations* observations(std::size_t index);
    void forget_if_empty(std::size_t index);

    RunInfo info_;
    int64_t branch_step_ = 0;
    TraceColumns records_;
    std::size_t attention_kept_from_ = 0;  // records before this index hold no attention weights
    std::size_t attention_bytes_ = 0;
    std::size_t observation_bytes_ = 0;  // the own records' observations, attention included
    std::size_t max_bytes_ = kMaxTraceBytes;
    std::size_t max_records_ = std::numeric_limits<std::size_t>::max();
    int64_t stride_ = 1;  // with keep_at_most: the steps kept before the window are multiples of this
    RecordSpan<StepRecord> span_{{}, &records_};
    RecordSpan<BatchRecord> batch_span_{{}, &records_};
};

}  // namespace stepscope::ui
