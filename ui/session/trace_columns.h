// One run's own records kept compactly (a head and a block of floats per step, step_layout.h), and
// the span that reads a run's records, a branch's parent's first, as StepRecord or BatchRecord values.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <memory>
#include <type_traits>
#include <vector>

#include "session/step_layout.h"

namespace stepscope::ui {

// Steps in chunks of about 1 MiB that never move once written: a view of a step stays valid while
// records are appended, and growing never copies what is held (a vector doubling 200 MB would).
class TraceColumns {
public:
    TraceColumns() = default;
    TraceColumns(const TraceColumns& other);
    TraceColumns& operator=(const TraceColumns& other);

    // Appends a step; the first one fixes the layout of all.
    void push_back(const BatchRecord& record);
    void clear();
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const StepLayout& layout() const { return layout_; }

    const StepHead& head(std::size_t i) const { return chunks_[i / chunk_steps_]->heads[i % chunk_steps_]; }
    StepHead& head(std::size_t i) { return chunks_[i / chunk_steps_]->heads[i % chunk_steps_]; }
    const float* block(std::size_t i) const {
        return chunks_[i / chunk_steps_]->blocks.data() + (i % chunk_steps_) * layout_.floats();
    }
    float* block(std::size_t i) {
        return chunks_[i / chunk_steps_]->blocks.data() + (i % chunk_steps_) * layout_.floats();
    }
    // Element `n`'s step i, a view; the whole step i, a copy.
    StepRecord element(std::size_t i, int n) const { return layout_.view(head(i), block(i), n); }
    BatchRecord batch(std::size_t i) const { return layout_.unpack(head(i), block(i)); }

    // Keeps the steps whose index `keep` accepts, in order (thinning a long run).
    template <typename Keep>
    void keep_if(Keep keep) {
        std::size_t kept = 0;
        for (std::size_t i = 0; i < size_; ++i) {
            if (!keep(i)) continue;
            if (kept != i) move_step(i, kept);
            ++kept;
        }
        truncate(kept);
    }

    // What the steps hold, and the chunks' bookkeeping; the steps' observations are counted by their owner.
    std::size_t bytes() const;
    std::size_t chunk_steps() const { return chunk_steps_; }

private:
    struct Chunk {
        std::vector<float> blocks;    // chunk_steps_ blocks reserved
        std::vector<StepHead> heads;  // chunk_steps_ reserved
    };
    void move_step(std::size_t from, std::size_t to);
    void truncate(std::size_t count);

    StepLayout layout_;
    std::size_t chunk_steps_ = 1;
    std::size_t size_ = 0;
    std::vector<std::unique_ptr<Chunk>> chunks_;
};

// A run's records in step order: its parent's records up to the branch step (shared, never copied),
// then its own. Reads like a const vector whose elements are values built on each read: size, [i],
// front, back, iteration, a copy into a vector. StepRecord reads one element, BatchRecord every one.
template <typename Record>
class RecordSpan {
    static_assert(std::is_same_v<Record, StepRecord> || std::is_same_v<Record, BatchRecord>,
                  "a run's records read as StepRecord or BatchRecord");

public:
    // Records 0 .. count - 1 of `records`; the last piece, the run's own, is read whole as it grows.
    struct Piece {
        const TraceColumns* records = nullptr;
        std::size_t count = 0;
    };

    class const_iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = Record;
        using difference_type = std::ptrdiff_t;
        using reference = Record;
        struct pointer {
            Record record;
            const Record* operator->() const { return &record; }
        };
        const_iterator() = default;
        const_iterator(const RecordSpan* span, std::size_t i) : span_(span), i_(i) {}
        Record operator*() const { return (*span_)[i_]; }
        pointer operator->() const { return {(*span_)[i_]}; }
        Record operator[](difference_type n) const { return (*span_)[std::size_t(difference_type(i_) + n)]; }
        const_iterator& operator++() {
            ++i_;
            return *this;
        }
        const_iterator operator++(int) {
            auto old = *this;
            ++i_;
            return old;
        }
        const_iterator& operator--() {
            --i_;
            return *this;
        }
        const_iterator operator--(int) {
            auto old = *this;
            --i_;
            return old;
        }
        const_iterator& operator+=(difference_type n) {
            i_ = std::size_t(difference_type(i_) + n);
            return *this;
        }
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

    // `shared`: the parent's pieces, cut at the branch step; `own`: the run's own records; StepRecord
    // reads batch element `element` of every piece.
    RecordSpan(std::vector<Piece> shared, const TraceColumns* own, int element = 0)
        : shared_(std::move(shared)), own_(own), element_(element) {
        for (const Piece& p : shared_) shared_count_ += p.count;
    }

    std::size_t size() const { return shared_count_ + own_->size(); }
    bool empty() const { return size() == 0; }
    Record operator[](std::size_t i) const { return read<Record>(i, element_); }
    // Record i of batch element `n` instead of the span's own (the batch's band reads every element).
    StepRecord element(std::size_t i, int n) const { return read<StepRecord>(i, n); }
    Record front() const { return (*this)[0]; }
    Record back() const { return (*this)[size() - 1]; }
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
    int element() const { return element_; }

private:
    template <typename As>
    As read(std::size_t i, int n) const {
        if (i >= shared_count_) return read<As>(*own_, i - shared_count_, n);
        for (const Piece& p : shared_) {
            if (i < p.count) return read<As>(*p.records, i, n);
            i -= p.count;
        }
        return read<As>(*own_, i, n);  // not reached for i < size()
    }
    template <typename As>
    static As read(const TraceColumns& records, std::size_t i, int n) {
        if constexpr (std::is_same_v<As, StepRecord>) return records.element(i, n);
        else return records.batch(i);
    }

    std::vector<Piece> shared_;
    std::size_t shared_count_ = 0;
    const TraceColumns* own_;
    int element_ = 0;
};

}  // namespace stepscope::ui
