// Copies the engine's observations of every batch element; the engine computes every number.
#include "step_probe.h"

#include <algorithm>

namespace stepscope::ui {

StepProbe::StepProbe(BatchRecord& record, int batch, int layers) : record_(record) {
    record_.batch = batch;
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
    out.is_linear = norms.is_linear;
    out.cache_length = norms.cache_length;
    const size_t size = size_t(record_.batch) * norms.heads;
    const std::vector<float>& first = norms.is_linear ? norms.sums : norms.keys;
    const std::vector<float>& second = norms.is_linear ? norms.normalizer : norms.values;
    if (first.size() >= size) out.first.assign(first.begin(), first.begin() + long(size));
    if (second.size() >= size) out.second.assign(second.begin(), second.begin() + long(size));
}

}  // namespace stepscope::ui
