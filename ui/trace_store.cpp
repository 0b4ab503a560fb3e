// Run records with the heatmap's attention weights kept for a bounded window only.
#include "trace_store.h"

#include <algorithm>

namespace stepscope::ui {

namespace {

std::size_t attention_bytes(const StepRecord& r) {
    std::size_t total = r.attention.capacity() * sizeof(AttentionRows);
    for (const AttentionRows& rows : r.attention) total += rows.weights.capacity() * sizeof(float);
    return total;
}

std::size_t record_bytes(const StepRecord& r) {
    std::size_t total = sizeof(StepRecord) + r.output.capacity() * sizeof(float) +
                        r.layers.capacity() * sizeof(LayerNorms) + attention_bytes(r);
    for (const CapacityRecord& c : r.capacity)
        total += sizeof(CapacityRecord) + (c.singular_values.capacity() + c.effective_rank.capacity() +
                                           c.denominator.capacity() + c.min_denominator.capacity() +
                                           c.row_entropy.capacity()) * sizeof(float);
    total += r.divergence.capacity() * sizeof(float);
    for (const LayerNorms& layer : r.layers)
        for (const ModuleNorms* m : {&layer.self, &layer.cross})
            total += (m->first.capacity() + m->second.capacity()) * sizeof(float);
    return total;
}

}  // namespace

void TraceStore::start(const RunInfo& info) {
    info_ = info;
    records_.clear();
    attention_kept_from_ = 0;
    bytes_ = 0;
}

void TraceStore::append(const std::vector<StepRecord>& records) {
    records_.insert(records_.end(), records.begin(), records.end());
    for (const StepRecord& r : records) bytes_ += record_bytes(r);
    const size_t keep_from = records_.size() > size_t(kAttentionWindow) ? records_.size() - kAttentionWindow : 0;
    for (; attention_kept_from_ < keep_from; ++attention_kept_from_) {
        StepRecord& r = records_[attention_kept_from_];
        bytes_ -= attention_bytes(r);
        r.attention.clear();
        r.attention.shrink_to_fit();
    }
}

void TraceStore::truncate(int64_t step) {
    auto after = std::upper_bound(records_.begin(), records_.end(), step,
                                  [](int64_t s, const StepRecord& r) { return s < r.step; });
    for (auto it = after; it != records_.end(); ++it) bytes_ -= record_bytes(*it);
    records_.erase(after, records_.end());
    attention_kept_from_ = std::min(attention_kept_from_, records_.size());
}

const StepRecord* TraceStore::at_step(int64_t step) const {
    const int64_t index = step - info_.base_step - 1;
    if (index < 0 || index >= static_cast<int64_t>(records_.size())) return nullptr;
    return &records_[size_t(index)];
}

int TraceStore::layers() const { return has_run() ? info_.model->config().n_layers : 0; }

int TraceStore::heads(AttentionRole role) const {
    if (!has_run()) return 0;
    const ModelConfig& c = info_.model->config();
    return role == AttentionRole::Self ? c.n_heads : (decoder() ? c.effective_cross_n_heads() : 0);
}

int TraceStore::width() const { return has_run() ? info_.model->config().d_model() : 0; }

bool TraceStore::decoder() const { return has_run() && info_.model->config().kind == ModelKind::Decoder; }

bool TraceStore::linear(AttentionRole role) const {
    if (!has_run()) return false;
    const ModelConfig& c = info_.model->config();
    return (role == AttentionRole::Self ? c.self_attention() : c.cross_attention_type) != "full";
}

}  // namespace stepscope::ui
