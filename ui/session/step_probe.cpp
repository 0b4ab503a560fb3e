// Copies the engine's observations of every batch element; the engine computes every number.
#include "session/step_probe.h"

#include <algorithm>
#include <iterator>
#include <limits>

namespace stepscope::ui {

StepProbe::StepProbe(BatchRecord& record, int batch, int layers, int observed) : record_(record) {
    record_.batch = batch;
    record_.observed = observed;
    record_.layers.assign(layers, {});
}

void StepProbe::attention_weights(int layer, AttentionRole role, const ConstMatrixRef& weights) {
    // Rows are n*H + h, as a BatchRecord keeps them; only the newest kAttentionWindow keys are kept.
    if (record_.batch <= 0 || weights.rows() % record_.batch != 0) return;
    AttentionRows out;
    out.layer = layer;
    out.role = role;
    out.heads = static_cast<int>(weights.rows() / record_.batch);
    const int total_keys = static_cast<int>(weights.cols());
    out.first_key = std::max(0, total_keys - kAttentionWindow);
    out.keys = total_keys - out.first_key;
    out.weights.resize(size_t(weights.rows()) * out.keys);
    Eigen::Map<RowMatrix>(out.weights.data(), weights.rows(), out.keys) = weights.rightCols(out.keys);
    record_.attention.push_back(std::move(out));
}

void StepProbe::state_norms(int layer, AttentionRole role, const StateNorms& norms) {
    if (layer < 0 || layer >= static_cast<int>(record_.layers.size()) || norms.heads <= 0) return;
    ModuleNorms& out = role == AttentionRole::Self ? record_.layers[layer].self : record_.layers[layer].cross;
    out.present = true;
    out.cache_length = norms.cache_length;
    const size_t size = size_t(record_.batch) * norms.heads;
    for (size_t c = 0; c < std::min<size_t>(norms.components.size(), 2); ++c) {
        const std::vector<float>& from = norms.components[c];
        if (from.size() >= size) (c == 0 ? out.first : out.second).assign(from.begin(), from.begin() + long(size));
    }
    if (role == AttentionRole::Self) keep_updates(layer, norms, size);
}

void StepProbe::keep_updates(int layer, const StateNorms& norms, size_t size) {
    const std::vector<float>* reported[kUpdates] = {&norms.write_strength, &norms.forget_gate, &norms.prediction_error};
    if (std::all_of(std::begin(reported), std::end(reported), [](auto* v) { return v->empty(); })) return;
    if (record_.updates.empty())
        record_.updates.assign(record_.layers.size() * kUpdates * size, std::numeric_limits<float>::quiet_NaN());
    for (int q = 0; q < kUpdates; ++q)
        if (reported[q]->size() >= size)
            std::copy(reported[q]->begin(), reported[q]->begin() + long(size),
                      record_.updates.begin() + long((size_t(layer) * kUpdates + size_t(q)) * size));
}

void StepProbe::attention_map(int layer, AttentionRole role, const AttentionMap& map) {
    // Softmax weights arrive through attention_weights at every step; maps add the implicit ones.
    const int row = record_.observed - map.first_batch;
    if (!map.implicit || row < 0 || row >= map.batch || map.heads <= 0) return;
    AttentionRows out;
    out.implicit = true;
    out.is_signed = map.is_signed;
    out.layer = layer;
    out.role = role;
    out.heads = map.heads;
    const int total_keys = static_cast<int>(map.weights.cols());
    const int skipped = std::max(0, total_keys - kAttentionWindow);
    out.first_key = map.first_key + skipped;
    out.keys = total_keys - skipped;
    out.weights.resize(size_t(out.heads) * out.keys);
    for (int h = 0; h < out.heads; ++h)
        for (int k = 0; k < out.keys; ++k)
            out.weights[size_t(h) * out.keys + k] = map.weights(long(row) * map.heads + h, skipped + k);
    record_.attention.push_back(std::move(out));
}

void StepProbe::state_capacity(int layer, AttentionRole role, const StateCapacity& capacity) {
    const int row = record_.observed - capacity.first_batch;
    if (row < 0 || row >= capacity.batch || capacity.heads <= 0) return;
    const size_t heads = size_t(capacity.heads), begin = size_t(row) * heads;
    auto own = [&](const std::vector<float>& all) {
        return all.size() >= begin + heads ? std::vector<float>(all.begin() + begin, all.begin() + begin + heads)
                                           : std::vector<float>();
    };
    CapacityRecord out;
    out.layer = layer;
    out.role = role;
    out.heads = capacity.heads;
    out.effective_rank = own(capacity.effective_rank);
    out.denominator = own(capacity.denominator);
    out.min_denominator = capacity.min_denominator;
    out.cache_length = capacity.cache_length;
    out.row_entropy = own(capacity.row_entropy);
    if (capacity.singular_values.rows() >= long(begin + heads)) {
        out.rank = static_cast<int>(capacity.singular_values.cols());
        const auto block = capacity.singular_values.middleRows(long(begin), long(heads));
        out.singular_values.resize(size_t(block.size()));
        Eigen::Map<RowMatrix>(out.singular_values.data(), block.rows(), block.cols()) = block;
    }
    record_.capacity.push_back(std::move(out));
}

void StepProbe::layer_output(int layer, const ConstMatrixRef& y) {
    if (!keep_layer_outputs_ || record_.observed >= y.rows()) return;
    if (layer >= int(layer_outputs_.size())) layer_outputs_.resize(size_t(layer) + 1);
    const auto row = y.row(record_.observed);
    layer_outputs_[size_t(layer)].assign(row.data(), row.data() + row.size());
}

}  // namespace stepscope::ui
