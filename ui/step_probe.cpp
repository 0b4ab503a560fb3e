// Copies the engine's observations of one batch element; the engine computes every number.
#include "step_probe.h"

#include <algorithm>

namespace stepscope::ui {

StepProbe::StepProbe(StepRecord& record, int observed, int batch, int layers)
    : record_(record), observed_(observed), batch_(batch) {
    record_.layers.assign(layers, {});
}

void StepProbe::attention_weights(int layer, AttentionRole role, const ConstMatrixRef& weights) {
    // Rows are n*H + h: the observed element's heads are a contiguous block of H rows.
    if (batch_ <= 0 || weights.rows() % batch_ != 0) return;
    AttentionRows out;
    out.layer = layer;
    out.role = role;
    out.heads = static_cast<int>(weights.rows() / batch_);
    const int total_keys = static_cast<int>(weights.cols());
    out.first_key = std::max(0, total_keys - kAttentionWindow);
    out.keys = total_keys - out.first_key;
    out.weights.resize(size_t(out.heads) * out.keys);
    for (int h = 0; h < out.heads; ++h)
        for (int k = 0; k < out.keys; ++k)
            out.weights[size_t(h) * out.keys + k] = weights(long(observed_) * out.heads + h, out.first_key + k);
    record_.attention.push_back(std::move(out));
}

void StepProbe::state_norms(int layer, AttentionRole role, const StateNorms& norms) {
    if (layer < 0 || layer >= static_cast<int>(record_.layers.size()) || norms.heads <= 0) return;
    ModuleNorms& out = role == AttentionRole::Self ? record_.layers[layer].self : record_.layers[layer].cross;
    out.present = true;
    out.is_linear = norms.is_linear;
    out.cache_length = norms.cache_length;
    const std::vector<float>& first = norms.is_linear ? norms.sums : norms.keys;
    const std::vector<float>& second = norms.is_linear ? norms.normalizer : norms.values;
    const size_t begin = size_t(observed_) * norms.heads, end = begin + norms.heads;
    if (first.size() >= end) out.first.assign(first.begin() + begin, first.begin() + end);
    if (second.size() >= end) out.second.assign(second.begin() + begin, second.begin() + end);
}

}  // namespace stepscope::ui
