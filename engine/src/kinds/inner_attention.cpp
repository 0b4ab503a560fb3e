// The inner attention of a module and what one step asks of its kind.
#include "kinds/inner_attention.h"

#include <random>

#include "core/parameters.h"
#include "kinds/attention_kind.h"
#include "stepscope/error.h"
#include "stepscope/intervention.h"
#include "stepscope/model.h"
#include "stepscope/observation.h"

namespace stepscope {

LayerStep LayerStep::of(const StepOptions& options, int64_t step, int layer) {
    LayerStep out;
    out.layer = layer;
    out.step = step;
    out.observer = options.observer;
    if (options.observer && options.observation && options.observation->observes(layer))
        out.observation = options.observation;
    if (options.ablation && !options.ablation->empty()) out.ablation = options.ablation;
    return out;
}

void LayerStep::silence(AttentionRole role, RowMatrix& heads, int head_count) const {
    if (!ablation) return;
    const long batch = heads.rows() / head_count;
    for (int h = 0; h < head_count; ++h)
        if (ablation->silences(layer, role, h, step))
            for (long n = 0; n < batch; ++n) heads.row(n * head_count + h).setZero();
}

InnerAttention::InnerAttention(const ModelConfig& config, const std::string& type, int heads, int query_dims,
                               int value_dims, const TensorMap& tensors, const std::string& prefix, uint64_t draw_tag)
    : kind_(&find_attention_kind(type)),
      capabilities_(&attention_capabilities(type)),
      heads_(heads),
      query_dims_(query_dims),
      value_dims_(value_dims),
      eps_(static_cast<float>(config.eps)),
      temperature_(static_cast<float>(config.softmax_temp.value_or(default_softmax_temp(query_dims)))),
      cache_precision_(cache_precision_from_name(config.cache_precision)),
      draw_tag_(draw_tag) {
    for (const KindParameter& declared : capabilities_->parameters)
        parameters_.push_back(static_cast<float>(config.kind_parameter(type, declared.name)));
    if (!capabilities_->feature_map) return;
    feature_map_ = make_feature_map(feature_map_options(config, query_dims));
    const auto stored = tensors.find(omega_name(prefix));
    if (stored == tensors.end()) return;
    if (!feature_map_->is_random())
        throw Error("tensor '" + stored->first + "' is stored, but feature map '" + config.feature_map +
                    "' takes no omega");
    stored_omega_ = matrix_of(stored->second);
    if (stored_omega_.cols() != feature_map_->omega_columns())
        throw Error("tensor '" + stored->first + "' has " + std::to_string(stored_omega_.cols()) +
                    " columns, feature map '" + config.feature_map + "' needs " +
                    std::to_string(feature_map_->omega_columns()));
}

float InnerAttention::parameter(const std::string& name) const {
    const auto& declared = capabilities_->parameters;
    for (size_t i = 0; i < declared.size(); ++i)
        if (declared[i].name == name) return parameters_[i];
    throw Error(capabilities_->description + " declares no parameter " + quote_text(name));
}

void InnerAttention::store(const std::string& prefix, TensorMap& out) const {
    if (has_stored_omega())
        out[omega_name(prefix)] = tensor_of(stored_omega_.data(), {stored_omega_.rows(), stored_omega_.cols()});
}

const RowMatrix& InnerAttention::omega(AttentionState& state, uint64_t sequence_seed) const {
    if (has_stored_omega() || !feature_map_->is_random()) return stored_omega_;
    if (!state.started) {
        std::seed_seq seeds{uint32_t(sequence_seed), uint32_t(sequence_seed >> 32), uint32_t(draw_tag_),
                            uint32_t(draw_tag_ >> 32)};
        std::mt19937_64 rng(seeds);
        state.omega = feature_map_->draw_omega(rng);
    }
    return state.omega;
}

void InnerAttention::features(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi, RowLayout layout) const {
    feature_map_->apply(x, omega, phi, layout);
}

}  // namespace stepscope
