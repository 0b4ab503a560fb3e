// What an attention kind does, as one interface: its step, its state, its snapshot tensors, views and edits.
//
// One implementation file per kind (kinds/), one registry (attention_kind.cpp). The layers
// (attention_layer.cpp) project queries, keys and values into heads and hand them to the module's kind.
// Shapes: N batch, H heads, D query/key width, M value width, S memory length, T steps.
#pragma once

#include <cstdint>
#include <string>

#include "stepscope/attention_kind.h"
#include "stepscope/observer.h"
#include "stepscope/tensor.h"
#include "stepscope/state.h"
#include "stepscope/types.h"

namespace stepscope {

class InnerAttention;
struct AttentionScratch;
struct BlockScratch;
struct LayerStep;

// What a cross attention's kind may ask of its layer: the keys (N*S*H, D) of the memory (N*S, E), rows
// (n, s, h), projected again for views that need them.
class MemoryProjection {
public:
    virtual void memory_keys(const RowMatrix& memory, RowMatrix& keys) const = 0;

protected:
    ~MemoryProjection() = default;
};

// A module's widths, for memory estimates: H, D, M, F and C of its feature map (0 without one), and
// the bytes of one key/value cache element.
struct ModuleWidths {
    double heads = 0, query = 0, value = 0;
    double features = 0, omega_columns = 0;
    double cache_element_bytes = sizeof(float);
};

class AttentionKind {
public:
    virtual ~AttentionKind() = default;

    // What the kind is, apart from the name and role the registry gives it.
    virtual AttentionCapabilities capabilities() const = 0;

    // Self attention, one step: s.queries, s.keys (N*H, D), s.values (N*H, M) and s.gates (G, N*H) of this step ->
    // s.heads (N*H, M). Updates `state` (its first step starts it) and shows `step`'s observer what
    // it asks for, before any head is silenced.
    virtual void self_step(const InnerAttention& inner, AttentionScratch& s, AttentionState& state,
                           uint64_t sequence_seed, const LayerStep& step) const = 0;

    // Whether self_block takes a block of this module whole; otherwise (the default) a block runs self_step
    // at each of its steps.
    virtual bool takes_blocks(const InnerAttention& /*inner*/) const { return false; }
    // Self attention over T known steps at once (Model::step_block), unobserved and unablated, where
    // takes_blocks: b.queries, b.keys (T*N*H, D) and b.values (T*N*H, M), rows (t, n, h) -> b.head_outputs,
    // rows likewise, and `state` as T calls of self_step would leave them, bit for bit.
    virtual void self_block(const InnerAttention& inner, BlockScratch& b, AttentionState& state, uint64_t sequence_seed,
                            int steps, int batch) const;

    // The causal batch form over a new sequence: queries, keys (T*N*H, D), values (T*N*H, M) and the
    // capabilities' gates (G, T*N*H) as projected (before any squashing), rows (t, n, h) -> attended
    // (T*N*H, M), rows likewise.
    virtual void self_batch(const InnerAttention& inner, const RowMatrix& queries, const RowMatrix& keys,
                            const RowMatrix& values, const RowMatrix& gates, int steps, int batch,
                            uint64_t sequence_seed, RowMatrix& attended) const = 0;

    // Cross attention's state, once per sequence, from the memory's keys (N*S*H, D) and values
    // (N*S*H, M), rows (n, s, h); state.memory_lengths is set.
    // Kinds that the registry does not offer as cross attention keep the default, which throws: config
    // validation refuses them first.
    virtual void cross_start(const InnerAttention& inner, AttentionScratch& s, const RowMatrix& keys,
                             const RowMatrix& values, int batch, AttentionState& state, uint64_t sequence_seed) const;

    // Cross attention, one step: s.queries (N*H, D) -> s.heads (N*H, M).
    virtual void cross_step(const InnerAttention& inner, const MemoryProjection& memory, AttentionScratch& s,
                            AttentionState& state, uint64_t sequence_seed, const LayerStep& step) const;

    // Why a started `state` cannot be stepped with `inner` at `batch`, as the end of a sentence
    // that names the module ("sums do not fit ..."); empty when it can. Shapes only: cheap.
    virtual std::string misfit(const InnerAttention& inner, const AttentionState& state, int batch) const = 0;
    // The same for a cross attention's state over a memory of `length` elements.
    virtual std::string memory_misfit(const AttentionState& /*state*/, long /*length*/) const { return {}; }

    // The state in a snapshot: tensors "{name}.0" and "{name}.1" in the reference's shapes, and back.
    virtual void put_tensors(const InnerAttention& inner, const AttentionState& state, int batch,
                             const std::string& name, TensorMap& out) const = 0;
    virtual void get_tensors(const InnerAttention& inner, const TensorMap& tensors, const std::string& name, int batch,
                             AttentionState& state) const = 0;

    // Norms per batch element and head, for observers.
    virtual StateNorms norms(const AttentionState& state, int batch, int heads) const = 0;

    // Interventions on a started state (intervention.h checks the layer, head and capability first).
    // Multiplies head `head`'s state of every batch element by `factor`.
    virtual void scale_head(const InnerAttention& /*inner*/, AttentionState& /*state*/, int /*batch*/, int /*head*/,
                            float /*factor*/) const {}
    // Forgets what head `head` holds, in every batch element.
    virtual void clear_head(const InnerAttention& /*inner*/, AttentionState& /*state*/, int /*batch*/,
                            int /*head*/) const {}
    // Empties the whole state; its shapes stay, so the next step continues from nothing.
    virtual void clear(AttentionState& state) const = 0;

    // Memory estimates (memory_budget.h), in bytes: the state of one module for `batch` sequences
    // after `steps` steps (self attention) or over a memory of `steps` elements (cross attention),
    // and what its growth holds twice for a moment.
    virtual double state_bytes(const ModuleWidths& m, double batch, int64_t steps) const = 0;
    virtual double growth_bytes(const ModuleWidths& /*m*/, double /*batch*/, int64_t /*steps*/) const { return 0; }
};

// The kind registered under `name`; throws Error naming it and the known kinds.
const AttentionKind& find_attention_kind(const std::string& name);

}  // namespace stepscope
