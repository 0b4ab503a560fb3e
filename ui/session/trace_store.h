// The records of one run on the UI side: what the plots, the CSV export and the run tree read; a branch shares its parent's.
//
// Every batch element's records are kept (BatchRecord), and the shown element's slice beside them
// (StepRecord, what the plots read): showing another element re-slices, it never steps again.
// Memory per step, float32: N x (E + 1 + 2 x H x modules) values, plus the shown slice; the seed
// example (N 10, E 384, 8 layers of 12 heads) takes about 28 KB a step, so the 2 GB cap holds
// about 77,000 steps. Full attention adds the heatmap's weights for its window of steps.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
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

// A run's records in step order: its parent's records up to the branch step (shared, never copied),
// then its own. Reads like a const vector: size, [i], front, back, iteration, a copy into a vector.
template <typename Record>
class RecordSpan {
public:
    // Records 0 .. count - 1 of `records`; the last piece, the run's own, is read whole as it grows.
    struct Piece {
        const std::vector<Record>* records = nullptr;
        std::size_t count = 0;
    };

    class const_iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = Record;
        using difference_type = std::ptrdiff_t;
        using pointer = const Record*;
        using reference = const Record&;
        const_iterator() = default;
        const_iterator(const RecordSpan* span, std::size_t i) : span_(span), i_(i) {}
        reference operator*() const { return (*span_)[i_]; }
        pointer operator->() const { return &(*span_)[i_]; }
        reference operator[](difference_type n) const { return (*span_)[std::size_t(difference_type(i_) + n)]; }
        const_iterator& operator++() { ++i_; return *this; }
        const_iterator operator++(int) { auto old = *this; ++i_; return old; }
        const_iterator& operator--() { --i_; return *this; }
        const_iterator operator--(int) { auto old = *this; --i_; return old; }
        const_iterator& operator+=(difference_type n) { i_ = std::size_t(difference_type(i_) + n); return *this; }
        const_iterator& operator-=(difference_type n) { return *this += -n; }
        friend const_iterator operator+(const_iterator a, difference_type n) { return a += n; }
        friend const_iterator operator+(difference_type n, const_iterator a) { return a += n; }
        friend const_iterator operator-(const_iterator a, difference_type n) { return a -= n; }
        friend difference_type operator-(const const_iterator& a, const const_iterator& b) {
            return difference_type(a.i_) - difference_type(b.i_);
        }
        friend bool operator==(const const_iterator& a, const const_iterator& b) { return a.i_ == b.i_; }
        friend bool operator!=(const const_iterator& a, const const_iterator& b) { return a.i_ != b.i_; }
        friend bool operator<(const const_iterator& a, const const_iterator& b) { return a.i_ < b.i_; }
        friend bool operator>(const const_iterator& a, const const_iterator& b) { return a.i_ > b.i_; }
        friend bool operator<=(const const_iterator& a, const const_iterator& b) { return a.i_ <= b.i_; }
        friend bool operator>=(const const_iterator& a, const const_iterator& b) { return a.i_ >= b.i_; }

    private:
        const RecordSpan* span_ = nullptr;
        std::size_t i_ = 0;
    };

    // `shared`: the parent's pieces, cut at the branch step; `own`: the run's own records.
    RecordSpan(std::vector<Piece> shared, const std::vector<Record>* own) : shared_(std::move(shared)), own_(own) {
        for (const Piece& p : shared_) shared_count_ += p.count;
    }

    std::size_t size() const { return shared_count_ + own_->size(); }
    bool empty() const { return size() == 0; }
    const Record& operator[](std::size_t i) const {
        if (i >= shared_count_) return (*own_)[i - shared_count_];
        for (const Piece& p : shared_) {
            if (i < p.count) return (*p.records)[i];
            i -= p.count;
        }
        return (*own_)[i];  // not reached for i < size()
    }
    const Record& front() const { return (*this)[0]; }
    const Record& back() const { return (*this)[size() - 1]; }
    const_iterator begin() const { return {this, 0}; }
    const_iterator end() const { return {this, size()}; }
    operator std::vector<Record>() const { return std::vector<Record>(begin(), end()); }
    // The pieces a branch of this run at a step inside it shares: those holding the first `count` records.
    std::vector<Piece> first(std::size_t count) const {
        std::vector<Piece> pieces;
        for (const Piece& p : shared_) {
            if (count == 0) return pieces;
            pieces.push_back({p.records, std::min(count, p.count)});
            count -= pieces.back().count;
        }
        if (count > 0) pieces.push_back({own_, std::min(count, own_->size())});
        return pieces;
    }
    // Records the run holds itself (after its branch step).
    std::size_t own_count() const { return own_->size(); }
    std::size_t shared_count() const { return shared_count_; }

private:
    std::vector<Piece> shared_;
    std::size_t shared_count_ = 0;
    const std::vector<Record>* own_;
};

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
    // The shown element's records, in step order, a branch's parent's first.
    const RecordSpan<StepRecord>& records() const { return span_; }
    // Every element's records, index for index with records().
    const RecordSpan<BatchRecord>& batch_records() const { return batch_span_; }
    int size() const { return static_cast<int>(span_.size()); }
    bool empty() const { return span_.empty(); }
    int64_t base_step() const { return info_.base_step; }
    int64_t last_step() const { return records_.empty() ? branch_step_ : records_.back().step; }
    // A branch: the step it left its parent at (its parent's records up to it are shown as its own);
    // base_step() for a run of its own.
    int64_t branch_step() const { return branch_step_; }
    // The records this run holds itself, after its branch step.
    int own_size() const { return static_cast<int>(records_.size()); }
    // The memory the run's own records hold, roughly: what kMaxTraceBytes bounds (shared records
    // are counted once, by the run that holds them).
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

    RunInfo info_;
    int64_t branch_step_ = 0;
    std::vector<StepRecord> records_;
    std::vector<BatchRecord> batch_records_;
    std::size_t attention_kept_from_ = 0;  // records before this index hold no attention weights
    std::size_t attention_bytes_ = 0;
    std::size_t bytes_ = 0;
    std::size_t max_bytes_ = kMaxTraceBytes;
    std::size_t max_records_ = std::numeric_limits<std::size_t>::max();
    int64_t stride_ = 1;  // with keep_at_most: the steps kept before the window are multiples of this
    RecordSpan<StepRecord> span_{{}, &records_};
    RecordSpan<BatchRecord> batch_span_{{}, &batch_records_};
};

}  // namespace stepscope::ui
