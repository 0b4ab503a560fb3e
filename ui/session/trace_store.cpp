// Run records of every batch element, kept compactly, attention weights kept for a bounded window.
#include "session/trace_store.h"

#include <algorithm>

#include "session/checkpoint_store.h"
#include "stepscope/attention_kind.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"

namespace stepscope::ui {

std::size_t trace_budget(const ModelConfig& config, int batch) {
    double limit = 0;
    try {
        limit = double(memory_limit());
    } catch (const Error&) {
        return kMaxTraceBytes;  // a malformed limit is reported where the run is refused
    }
    RunShape run;
    run.batch = std::max(batch, 1);
    run.steps = 1;
    run.state_copies = 2;
    // The window itself (Qt, its plots and their copies of the shown element of each run drawn) takes
    // about 250 MB before any trace: the seed example at batch 256 peaked at 1.03 GiB under a 1 GiB
    // limit without this allowance.
    constexpr double kWindowBytes = 256.0 * 1024 * 1024;
    const double others =
        kWindowBytes + estimate_model_bytes(config) + estimate_run_bytes(config, run) + double(checkpoint_budget());
    return std::size_t(std::clamp(limit - others, 0.0, double(kMaxTraceBytes)));
}

TraceStore::TraceStore() = default;

TraceStore::TraceStore(const TraceStore& other) { *this = other; }

TraceStore& TraceStore::operator=(const TraceStore& other) {
    if (this == &other) return *this;
    info_ = other.info_;
    branch_step_ = other.branch_step_;
    records_ = other.records_;
    attention_kept_from_ = other.attention_kept_from_;
    attention_bytes_ = other.attention_bytes_;
    observation_bytes_ = other.observation_bytes_;
    max_bytes_ = other.max_bytes_;
    max_records_ = other.max_records_;
    stride_ = other.stride_;
    // The shared pieces stay the parent's; the own piece is this copy's.
    rebuild_spans(other.span_.first(other.span_.shared_count()),
                  other.batch_span_.first(other.batch_span_.shared_count()));
    return *this;
}

void TraceStore::rebuild_spans(std::vector<RecordSpan<StepRecord>::Piece> shared,
                               std::vector<RecordSpan<BatchRecord>::Piece> batch_shared) {
    span_ = RecordSpan<StepRecord>(std::move(shared), &records_, info_.observed);
    batch_span_ = RecordSpan<BatchRecord>(std::move(batch_shared), &records_);
}

void TraceStore::start_branch(const TraceStore& parent, int64_t step, const RunInfo& info, std::size_t max_bytes) {
    start(info, max_bytes);
    step = std::clamp(step, parent.base_step(), parent.last_step());
    info_.base_step = parent.base_step();
    branch_step_ = step;
    const auto count = [step](const auto& span) {
        return std::size_t(
            std::upper_bound(span.begin(), span.end(), step, [](int64_t s, const auto& r) { return s < r.step; }) -
            span.begin());
    };
    const std::size_t shared = count(parent.span_);
    rebuild_spans(parent.span_.first(shared), parent.batch_span_.first(shared));
}

void TraceStore::start(const RunInfo& info, std::size_t max_bytes) {
    info_ = info;
    branch_step_ = info.base_step;
    rebuild_spans();
    max_bytes_ = max_bytes;
    records_.clear();
    attention_kept_from_ = 0;
    attention_bytes_ = 0;
    observation_bytes_ = 0;
    stride_ = 1;
}

StepObservations* TraceStore::observations(std::size_t index) { return records_.head(index).observations.get(); }

void TraceStore::forget_if_empty(std::size_t index) {
    StepHead& head = records_.head(index);
    if (!head.observations || !head.observations->empty()) return;
    observation_bytes_ -= head.observations->bytes();
    head.observations.reset();
}

void TraceStore::append(const std::vector<BatchRecord>& records) {
    for (const BatchRecord& r : records) {
        records_.push_back(r);  // not its original: that goes to a run of its own, if any
        if (StepObservations* seen = observations(records_.size() - 1)) {
            seen->show(info_.observed, records_.layout().batch());
            attention_bytes_ += seen->attention_bytes();
            observation_bytes_ += seen->bytes();
        }
    }
    trim_attention();
    thin();
}

void TraceStore::drop_attention(std::size_t index) {
    StepObservations* seen = observations(index);
    if (!seen) return;
    const std::size_t attention = seen->attention_bytes(), before = seen->bytes();
    seen->drop_attention();
    attention_bytes_ -= attention;
    observation_bytes_ = observation_bytes_ - before + seen->bytes();
    forget_if_empty(index);
}

void TraceStore::trim_attention() {
    while (attention_kept_from_ < records_.size() &&
           (records_.size() - attention_kept_from_ > std::size_t(kAttentionWindow) ||
            attention_bytes_ > kMaxAttentionBytes))
        drop_attention(attention_kept_from_++);
}

void TraceStore::set_observed(int element) {
    info_.observed = std::clamp(element, 0, std::max(0, info_.batch - 1));
    span_ = RecordSpan<StepRecord>(span_.first(span_.shared_count()), &records_, info_.observed);
    // Only the softmax rows are cut per element, and only the heatmap's window holds any.
    for (std::size_t i = attention_kept_from_; i < records_.size(); ++i) {
        StepObservations* seen = observations(i);
        if (!seen || seen->attention.empty()) continue;
        const std::size_t attention = seen->attention_bytes(), before = seen->bytes();
        seen->show(info_.observed, records_.layout().batch());
        attention_bytes_ = attention_bytes_ - attention + seen->attention_bytes();
        observation_bytes_ = observation_bytes_ - before + seen->bytes();
    }
}

void TraceStore::add_observed(const std::vector<BatchRecord>& recomputed) {
    std::size_t lowest = records_.size(), highest = 0;
    for (const BatchRecord& r : recomputed) {
        if (r.observed != info_.observed) continue;
        std::size_t lo = 0, hi = records_.size();
        while (lo < hi) {
            const std::size_t mid = (lo + hi) / 2;
            if (records_.head(mid).step < r.step) lo = mid + 1;
            else hi = mid;
        }
        if (lo == records_.size() || records_.head(lo).step != r.step) continue;
        StepHead& head = records_.head(lo);
        if (!head.observations) {
            head.observations = std::make_unique<StepObservations>();
            head.observations->observed = head.observations->divergence_of = head.observed;
            observation_bytes_ += head.observations->bytes();
        }
        StepObservations& into = *head.observations;
        const std::size_t attention_before = into.attention_bytes(), bytes_before = into.bytes();
        if (into.observed != r.observed) {
            // What the engine saw inside another element gives way: showing that one asks for it again.
            into.attention.erase(std::remove_if(into.attention.begin(), into.attention.end(),
                                                [](const AttentionRows& a) { return a.implicit; }),
                                 into.attention.end());
            into.capacity.clear();
            into.retrieval.clear();
            into.observed = r.observed;
        }
        auto replace = [](auto& held, const auto& added) {
            for (const auto& item : added) {
                held.erase(std::remove_if(held.begin(), held.end(),
                                          [&](const auto& h) { return h.layer == item.layer && h.role == item.role; }),
                           held.end());
                held.push_back(item);
            }
        };
        replace(into.attention, r.attention);
        replace(into.capacity, r.capacity);
        if (!r.retrieval.empty()) into.retrieval = r.retrieval;
        into.show(info_.observed, records_.layout().batch());
        attention_bytes_ = attention_bytes_ - attention_before + into.attention_bytes();
        observation_bytes_ = observation_bytes_ - bytes_before + into.bytes();
        lowest = std::min(lowest, lo);
        highest = std::max(highest, lo);
    }
    // Rows recomputed earlier for older steps give way to these, so the heatmap's bytes stay bounded.
    for (std::size_t i = 0; i < attention_kept_from_ && attention_bytes_ > kMaxAttentionBytes; ++i) {
        const StepObservations* seen = observations(i);
        if ((i < lowest || i > highest) && seen && !seen->attention.empty()) drop_attention(i);
    }
}

void TraceStore::keep_at_most(std::size_t count) {
    max_records_ = std::max<std::size_t>(count, 2);
    thin();
}

void TraceStore::thin() {
    if (max_records_ == std::numeric_limits<std::size_t>::max()) return;
    for (;;) {
        drop_off_stride();
        if (records_.size() <= max_records_ + std::size_t(kAttentionWindow)) return;
        // Too many on this stride: every other kept step goes.
        stride_ *= 2;
    }
}

void TraceStore::drop_off_stride() {
    const std::size_t window_from = records_.size() - std::min(records_.size(), std::size_t(kAttentionWindow));
    std::size_t attention_kept_from = attention_kept_from_;
    auto keep = [&](std::size_t i) {
        if (i >= window_from || (records_.head(i).step - info_.base_step) % stride_ == 0) return true;
        if (const StepObservations* seen = records_.head(i).observations.get()) {
            observation_bytes_ -= seen->bytes();
            attention_bytes_ -= seen->attention_bytes();
        }
        if (i < attention_kept_from_) --attention_kept_from;
        return false;
    };
    records_.keep_if(keep);
    attention_kept_from_ = attention_kept_from;
}

std::optional<StepRecord> TraceStore::at_step(int64_t step) const {
    std::size_t lo = 0, hi = span_.size();
    // Reads only the steps, not whole records, on the way.
    auto step_at = [this](std::size_t i) {
        if (i >= span_.shared_count()) return records_.head(i - span_.shared_count()).step;
        return span_[i].step;
    };
    while (lo < hi) {
        const std::size_t mid = (lo + hi) / 2;
        if (step_at(mid) < step) lo = mid + 1;
        else hi = mid;
    }
    if (lo == span_.size() || step_at(lo) != step) return std::nullopt;
    return span_[lo];
}

int TraceStore::layers() const { return has_run() ? info_.model->config().n_layers : 0; }

int TraceStore::heads(AttentionRole role) const {
    if (!has_run()) return 0;
    const ModelConfig& c = info_.model->config();
    return role == AttentionRole::Self ? c.n_heads : (decoder() ? c.effective_cross_n_heads() : 0);
}

int TraceStore::width() const { return has_run() ? info_.model->config().d_model() : 0; }

bool TraceStore::decoder() const { return has_run() && info_.model->config().kind == ModelKind::Decoder; }

const AttentionCapabilities& TraceStore::kind(AttentionRole role) const {
    const ModelConfig& c = info_.model->config();
    return attention_capabilities(role == AttentionRole::Self ? c.self_attention() : c.cross_attention_type);
}

}  // namespace stepscope::ui
