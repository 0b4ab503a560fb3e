// Interventions: which heads an ablation silences, and state edits that check before they change anything.
#include "stepscope/intervention.h"

#include "layers/attention_layer.h"
#include "stepscope/error.h"
#include "stepscope/model.h"

namespace stepscope {

namespace {

const char* role_name(AttentionRole role) { return role == AttentionRole::Self ? "self" : "cross"; }

void check_layer(const Model& model, int layer) {
    if (layer < 0 || layer >= model.config().n_layers)
        throw Error("layer " + std::to_string(layer) + " is outside 0.." + std::to_string(model.config().n_layers - 1));
}

// The inner attention of `role` in `layer`, after checking both exist.
const InnerAttention& inner_of(const Model& model, int layer, AttentionRole role) {
    return *model.attention_module(layer, role).inner;
}

// "layer 1's self attention"
std::string module_name(int layer, AttentionRole role) {
    return "layer " + std::to_string(layer) + "'s " + role_name(role) + " attention";
}

void check_head(const InnerAttention& inner, int layer, AttentionRole role, int head) {
    if (head < 0 || head >= inner.heads())
        throw Error("head " + std::to_string(head) + " of layer " + std::to_string(layer) + "'s " + role_name(role) +
                    " attention is outside 0.." + std::to_string(inner.heads() - 1));
}

// A head's module, checked to exist and to offer `offered` (one of its kind's capabilities), and its
// state, null while the sequence has not started (nothing to edit yet).
struct HeadEdit {
    const InnerAttention& inner;
    AttentionState* state;
};

HeadEdit head_edit(const Model& model, State& state, int layer, AttentionRole role, int head,
                   bool AttentionCapabilities::*offered, const char* otherwise) {
    const InnerAttention& inner = inner_of(model, layer, role);
    check_head(inner, layer, role, head);
    if (!(inner.capabilities().*offered))
        throw Error(module_name(layer, role) + " is " + inner.capabilities().description + ": " + otherwise);
    model.check_state(state);
    AttentionState& module = state.layers[size_t(layer)].attention(role);
    return {inner, module.started ? &module : nullptr};
}

}  // namespace

bool Ablation::silences(int layer, AttentionRole role, int head, int64_t step) const {
    for (const HeadAblation& a : heads)
        if (a.layer == layer && a.role == role && a.head == head && step >= a.from_step) return true;
    return false;
}

void check_ablation(const Model& model, const Ablation& ablation) {
    for (const HeadAblation& a : ablation.heads) {
        check_head(inner_of(model, a.layer, a.role), a.layer, a.role, a.head);
        if (a.from_step < 0) throw Error("an ablation starts at step " + std::to_string(a.from_step) + ", before 0");
    }
}

void scale_head(const Model& model, State& state, int layer, AttentionRole role, int head, float factor) {
    const HeadEdit edit =
        head_edit(model, state, layer, role, head, &AttentionCapabilities::scale_head, "it has no S and Z to scale");
    if (edit.state) edit.inner.kind().scale_head(edit.inner, *edit.state, state.batch, head, factor);
}

void clear_head_cache(const Model& model, State& state, int layer, AttentionRole role, int head) {
    const HeadEdit edit = head_edit(model, state, layer, role, head, &AttentionCapabilities::clear_head,
                                    "it keeps no key/value cache to clear");
    if (edit.state) edit.inner.kind().clear_head(edit.inner, *edit.state, state.batch, head);
}

void clear_layer_state(const Model& model, State& state, int layer) {
    const InnerAttention& inner = inner_of(model, layer, AttentionRole::Self);
    model.check_state(state);
    AttentionState& module = state.layers[size_t(layer)].self_attention;
    if (!module.started) return;
    inner.kind().clear(module);
}

void copy_layer_state(const Model& model, State& target, const State& source, int layer) {
    check_layer(model, layer);
    model.check_state(source);
    model.check_state(target);
    if (source.empty() || target.empty())
        throw Error("activation patching needs two started runs; one of them has taken no step");
    if (source.step != target.step || source.batch != target.batch)
        throw Error("activation patching copies between runs at the same step and batch: the source is at step " +
                    std::to_string(source.step) + " with batch " + std::to_string(source.batch) + ", the target at " +
                    std::to_string(target.step) + " with batch " + std::to_string(target.batch));
    const LayerState& from = source.layers[size_t(layer)];
    const AttentionState& own = target.layers.front().cross_attention;
    const RowMatrix& memory = from.cross_attention.memory;
    if (model.is_decoder() && (memory.rows() != own.memory.rows() || memory.cols() != own.memory.cols() ||
                               memory != own.memory || from.cross_attention.memory_lengths != own.memory_lengths))
        throw Error("activation patching between decoder runs needs the same memory in both");
    target.layers[size_t(layer)] = from;
}

}  // namespace stepscope
