// Run records of every batch element with the shown element's slice, attention weights kept for a bounded window.
#include "session/trace_store.h"

#include <algorithm>

#include "session/checkpoint_store.h"
#include "stepscope/attention_kind.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"

namespace stepscope::ui {

namespace {

template <typename Record>
std::size_t attention_bytes(const Record& r) {
    std::size_t total = r.attention.capacity() * sizeof(AttentionRows);
    for (const AttentionRows& rows : r.attention) total += rows.weights.capacity() * sizeof(float);
    return total;
}

std::size_t norms_bytes(const std::vector<LayerNorms>& layers) {
    std::size_t total = layers.capacity() * sizeof(LayerNorms);
    for (const LayerNorms& layer : layers)
        for (const ModuleNorms* m : {&layer.self, &layer.cross})
            total += (m->first.capacity() + m->second.capacity()) * sizeof(float);
    return total;
}

template <typename Record>
std::size_t insight_bytes(const Record& r) {
    std::size_t total = r.capacity.capacity() * sizeof(CapacityRecord) + r.divergence.capacity() * sizeof(float);
    for (const CapacityRecord& c : r.capacity)
        total += (c.singular_values.capacity() + c.effective_rank.capacity() + c.denominator.capacity() +
                  c.min_denominator.capacity() + c.row_entropy.capacity()) * sizeof(float);
    return total;
}

std::size_t token_bytes(const TokenPrediction& p) {
    return p.input.capacity() * sizeof(int64_t) + p.top.capacity() * sizeof(Prediction);
}

std::size_t record_bytes(const StepRecord& r) {
    return sizeof(StepRecord) + (r.output.capacity() + r.updates.capacity()) * sizeof(float) + norms_bytes(r.layers) +
           attention_bytes(r) +
           insight_bytes(r) + (r.token ? token_bytes(*r.token) : 0) + r.retrieval.capacity() * sizeof(Retrieval);
}

std::size_t record_bytes(const BatchRecord& r) {
    std::size_t tokens = r.tokens.capacity() * sizeof(TokenPrediction) + r.retrieval.capacity() * sizeof(Retrieval);
    for (const TokenPrediction& p : r.tokens) tokens += token_bytes(p);
    return sizeof(BatchRecord) + (r.outputs.capacity() + r.output_norms.capacity() + r.updates.capacity()) * sizeof(float) +
           norms_bytes(r.layers) + attention_bytes(r) + insight_bytes(r) + tokens;
}

template <typename Record>
void clear_attention(Record& r) {
    r.attention.clear();
    r.attention.shrink_to_fit();
}

}  // namespace

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
    const double others = kWindowBytes + estimate_model_bytes(config) + estimate_run_bytes(config, run) +
                          double(checkpoint_budget());
    return std::size_t(std::clamp(limit - others, 0.0, double(kMaxTraceBytes)));
}

TraceStore::TraceStore() = default;

TraceStore::TraceStore(const TraceStore& other) { *this = other; }

TraceStore& TraceStore::operator=(const TraceStore& other) {
    if (this == &other) return *this;
    info_ = other.info_;
    branch_step_ = other.branch_step_;
    records_ = other.records_;
    batch_records_ = other.batch_records_;
    attention_kept_from_ = other.attention_kept_from_;
    attention_bytes_ = other.attention_bytes_;
    bytes_ = other.bytes_;
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
    span_ = RecordSpan<StepRecord>(std::move(shared), &records_);
    batch_span_ = RecordSpan<BatchRecord>(std::move(batch_shared), &batch_records_);
}

void TraceStore::start_branch(const TraceStore& parent, int64_t step, const RunInfo& info, std::size_t max_bytes) {
    start(info, max_bytes);
    step = std::clamp(step, parent.base_step(), parent.last_step());
    info_.base_step = parent.base_step();
    branch_step_ = step;
    const auto count = [step](const auto& span) {
        return std::size_t(std::upper_bound(span.begin(), span.end(), step,
                                            [](int64_t s, const auto& r) { return s < r.step; }) -
                           span.begin());
    };
    rebuild_spans(parent.span_.first(count(parent.span_)), parent.batch_span_.first(count(parent.batch_span_)));
}

void TraceStore::start(const RunInfo& info, std::size_t max_bytes) {
    info_ = info;
    branch_step_ = info.base_step;
    rebuild_spans();
    max_bytes_ = max_bytes;
    records_.clear();
    batch_records_.clear();
    attention_kept_from_ = 0;
    attention_bytes_ = 0;
    bytes_ = 0;
    stride_ = 1;
}

void TraceStore::append(const std::vector<BatchRecord>& records) {
    for (const BatchRecord& r : records) {
        batch_records_.push_back(r);
        batch_records_.back().original.reset();  // the original's records go to a run of their own, if any
        records_.push_back(r.element(info_.observed));
        attention_bytes_ += attention_bytes(records_.back()) + attention_bytes(batch_records_.back());
        bytes_ += record_bytes(records_.back()) + record_bytes(batch_records_.back());
    }
    trim_attention();
    thin();
}

void TraceStore::drop_attention(std::size_t index) {
    std::size_t dropped = attention_bytes(records_[index]);
    clear_attention(records_[index]);
    if (index < batch_records_.size()) {
        dropped += attention_bytes(batch_records_[index]);
        clear_attention(batch_records_[index]);
    }
    attention_bytes_ -= dropped;
    bytes_ -= dropped;
}

void TraceStore::trim_attention() {
    while (attention_kept_from_ < records_.size() &&
           (records_.size() - attention_kept_from_ > std::size_t(kAttentionWindow) ||
            attention_bytes_ > kMaxAttentionBytes))
        drop_attention(attention_kept_from_++);
}

void TraceStore::set_observed(int element) {
    info_.observed = std::clamp(element, 0, std::max(0, info_.batch - 1));
    for (std::size_t i = 0; i < records_.size(); ++i) {
        StepRecord shown = batch_records_[i].element(info_.observed);
        const std::size_t attention_before = attention_bytes(records_[i]), bytes_before = record_bytes(records_[i]);
        attention_bytes_ = attention_bytes_ - attention_before + attention_bytes(shown);
        bytes_ = bytes_ - bytes_before + record_bytes(shown);
        records_[i] = std::move(shown);
    }
}

void TraceStore::add_observed(const std::vector<BatchRecord>& recomputed) {
    std::size_t lowest = records_.size(), highest = 0;
    for (const BatchRecord& r : recomputed) {
        if (r.observed != info_.observed) continue;
        const auto found = std::lower_bound(records_.begin(), records_.end(), r.step,
                                            [](const StepRecord& record, int64_t s) { return record.step < s; });
        if (found == records_.end() || found->step != r.step) continue;
        StepRecord& into = *found;
        const StepRecord shown = r.element(r.observed);
        const std::size_t attention_before = attention_bytes(into), bytes_before = record_bytes(into);
        auto replace = [](auto& held, const auto& added) {
            for (const auto& item : added) {
                held.erase(std::remove_if(held.begin(), held.end(),
                                          [&](const auto& h) { return h.layer == item.layer && h.role == item.role; }),
                           held.end());
                held.push_back(item);
            }
        };
        replace(into.attention, shown.attention);
        replace(into.capacity, shown.capacity);
        if (!shown.retrieval.empty()) into.retrieval = shown.retrieval;
        attention_bytes_ = attention_bytes_ - attention_before + attention_bytes(into);
        bytes_ = bytes_ - bytes_before + record_bytes(into);
        const std::size_t index = std::size_t(found - records_.begin());
        lowest = std::min(lowest, index);
        highest = std::max(highest, index);
    }
    // Rows recomputed earlier for older steps give way to these, so the heatmap's bytes stay bounded.
    for (std::size_t i = 0; i < attention_kept_from_ && attention_bytes_ > kMaxAttentionBytes; ++i)
        if ((i < lowest || i > highest) && !records_[i].attention.empty()) drop_attention(i);
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
    std::size_t kept = 0, attention_kept_from = attention_kept_from_;
    for (std::size_t i = 0; i < records_.size(); ++i) {
        if (i < window_from && (records_[i].step - info_.base_step) % stride_ != 0) {
            bytes_ -= record_bytes(records_[i]) + record_bytes(batch_records_[i]);
            attention_bytes_ -= attention_bytes(records_[i]) + attention_bytes(batch_records_[i]);
            if (i < attention_kept_from_) --attention_kept_from;
            continue;
        }
        if (kept != i) {
            records_[kept] = std::move(records_[i]);
            batch_records_[kept] = std::move(batch_records_[i]);
        }
        ++kept;
    }
    records_.resize(kept);
    batch_records_.resize(kept);
    attention_kept_from_ = attention_kept_from;
}

const StepRecord* TraceStore::at_step(int64_t step) const {
    const auto found = std::lower_bound(span_.begin(), span_.end(), step,
                                        [](const StepRecord& r, int64_t s) { return r.step < s; });
    return found != span_.end() && found->step == step ? &*found : nullptr;
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
