// Memory estimates of models and runs from their configs.
#include "stepscope/memory_budget.h"

#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "kinds/attention_kind.h"
#include "kernels/cache_capacity.h"
#include "core/parameters.h"
#include "stepscope/error.h"
#include "stepscope/feature_map.h"
#include "stepscope/state.h"

namespace stepscope {

namespace {

constexpr double kFloat = sizeof(float);
// Per layer, besides its matrices: modules, tensor names, map nodes, feature maps.
constexpr double kLayerOverheadBytes = 16 * 1024;
// The model holds each float32 weight once, in its packed panels; bfloat16 and q8 keep the float32
// originals (for saving) beside their panels, which add half a copy, or 1.125 bytes a weight (a
// float scale per 32 int8 weights).
constexpr double kBfloat16Copies = 0.5;
constexpr double kQ8Copies = 1.125 / 4;
// While a layer is built, its worker holds its tensors as drawn or read and, at most, one copy
// of them on the way into the panels (the fused projections' matrix, a format's conversion).
constexpr double kBuildCopies = 2;

// The widths of one attention module and its kind.
struct Module : ModuleWidths {
    const AttentionKind* kind = nullptr;
    bool grows = false;  // keeps a cache that grows a row per step, and so softmax weights over it in its scratch
    bool orthogonal_draw = false;  // its feature map draws orthogonal blocks (FeatureMap::draws_orthogonal)
};

Module module_widths(const ModelConfig& c, const std::string& type, int heads, int query, int value) {
    Module m;
    const AttentionCapabilities& kind = attention_capabilities(type);
    m.kind = &find_attention_kind(type);
    m.grows = state_grows(kind);
    m.heads = heads;
    m.query = query;
    m.value = value;
    if (cache_precision_from_name(c.cache_precision) == CachePrecision::Bf16) m.cache_element_bytes = 2;
    if (kind.feature_map) {
        const auto map = make_feature_map(feature_map_options(c, query));
        m.features = map->output_dims();
        m.omega_columns = map->omega_columns();
        m.orthogonal_draw = map->draws_orthogonal();
    }
    return m;
}

Module self_widths(const ModelConfig& c) {
    return module_widths(c, c.self_attention(), c.n_heads, c.query_dimensions, c.value_dimensions);
}

Module cross_widths(const ModelConfig& c) {
    return module_widths(c, c.cross_attention_type, c.effective_cross_n_heads(), c.effective_cross_query_dimensions(),
                         c.effective_cross_value_dimensions());
}

// An orthogonal draw holds a (D, D) Gaussian and its Q besides omega.
double draw_scratch_bytes(const Module& m) { return m.orthogonal_draw ? 2 * kFloat * m.query * m.query : 0; }

// One step's buffers (step_scratch.h) for the batch: activations, projections, features, softmax weights.
double scratch_bytes(const ModelConfig& c, const RunShape& run) {
    const double n = double(run.batch), e = double(c.d_model()), t = appended_cache_capacity(run.steps);
    const double s = double(run.memory_length);
    const Module self = self_widths(c);
    double floats = n * (4 * e + c.feed_forward_dimensions);
    floats += n * self.heads * (3 * self.query + 2 * self.value + 2 * self.features + (self.grows ? t : 0));
    double bytes = kFloat * floats + draw_scratch_bytes(self);
    if (c.kind == ModelKind::Decoder) {
        const Module cross = cross_widths(c);
        const double cross_floats =
            n * cross.heads * (2 * cross.query + 2 * cross.value + cross.features * (1 + s) + (cross.grows ? s : 0));
        bytes += kFloat * cross_floats + draw_scratch_bytes(cross);
    }
    return bytes;
}

}  // namespace

double estimate_model_bytes(const ModelConfig& config) {
    const Precision precision = precision_from_name(config.precision);
    const double copies = 1 + (precision == Precision::Bf16 ? kBfloat16Copies
                               : precision == Precision::Q8 ? kQ8Copies
                                                            : 0);
    const double weights = kFloat * double(parameter_count(config));
    // The layers are built on oneTBB's workers, one layer each at a time (Model::create_random).
    const double workers = std::min<double>(config.n_layers, tbb::this_task_arena::max_concurrency());
    const double building = kBuildCopies * workers * weights / std::max(1, config.n_layers);
    return weights * copies + building + kLayerOverheadBytes * config.n_layers;
}

double estimate_state_bytes(const ModelConfig& c, const RunShape& run) {
    const double n = double(run.batch), layers = c.n_layers;
    const Module self = self_widths(c);
    double per_layer = self.kind->state_bytes(self, n, run.steps);
    const double growth = self.kind->growth_bytes(self, n, run.steps);
    if (c.kind == ModelKind::Decoder) {
        const Module cross = cross_widths(c);
        const double s = double(run.memory_length);
        // Every layer keeps the memory it was built from, (N*S, E_mem), and its lengths.
        per_layer += kFloat * n * s * double(c.effective_cross_model_dimensions()) + sizeof(int) * n;
        per_layer += cross.kind->state_bytes(cross, n, run.memory_length);
    }
    return layers * per_layer + growth;
}

double sequence_state_bytes(const ModelConfig& c, int64_t steps) {
    const Module self = self_widths(c);
    const double per_layer = self.grows
                                 ? self.cache_element_bytes * double(steps) * self.heads * (self.query + self.value)
                                 : self.kind->state_bytes(self, 1, steps) - kFloat * self.query * self.omega_columns;
    return c.n_layers * per_layer;
}

double estimate_run_bytes(const ModelConfig& config, const RunShape& run) {
    return estimate_state_bytes(config, run) * std::max(1, run.state_copies) + scratch_bytes(config, run) +
           run.kept_bytes;
}

double estimate_step_work(const ModelConfig& config, const RunShape& run) {
    const double n = double(run.batch), t = double(run.steps), layers = config.n_layers;
    double work = n * t * double(parameter_count(config));
    const Module self = self_widths(config);
    const double per_step = self.heads * double(self.query + self.value + self.features);
    // A cache kind reads every earlier step: t (t + 1) / 2 keys and values in all; sums read a fixed state.
    work += self.grows ? n * t * (t + 1) / 2 * layers * per_step
                       : n * t * layers * self.heads * double(std::max(self.features, self.query)) * self.value;
    if (config.kind == ModelKind::Decoder) {
        const Module cross = cross_widths(config);
        work += n * t * layers * cross.heads * double(run.memory_length) * double(cross.query + cross.value);
    }
    return work;
}

void require_model_fits(const ModelConfig& config) {
    validate(config);
    require_memory(estimate_model_bytes(config), "this model");
}

}  // namespace stepscope
