// What an observed step shows of each attention kind: the attention map and the state's capacity.
//
// One function per kind and role, called by the attention layers after the
// attention output is computed and before any head is silenced.
#pragma once

#include "layers/step_scratch.h"
#include "kinds/inner_attention.h"

namespace stepscope {

// Linear self attention, after this step's update of `state`:
//   s.phi_queries, s.phi_keys (N*H, F) of this step.
void observe_linear_self(const InnerAttention& inner, const AttentionScratch& s, const AttentionState& state, int batch,
                         const LayerStep& step);

// Linear cross attention: s.phi_queries (N*H, F) of this step, `memory_phi_keys`
// (N*S*H, F) of the memory, rows (n, s, h).
void observe_linear_cross(const InnerAttention& inner, const AttentionScratch& s, const RowMatrix& memory_phi_keys,
                          const AttentionState& state, int batch, const LayerStep& step);

// The delta rules, after this step's update of `state`: s.phi_queries, s.phi_keys (N*H, F) of unit length, the
// step's beta and alpha (N*H; alpha null without a forget gate), and the readout's scale. Their held keys are
// effective keys: S_t = sum_j k~_j v_j^T, so every step rewrites them, k~_j <- alpha (k~_j - beta k (k . k~_j)),
// and appends k~_t = beta k; the weights are A[t, j] = scale q . k~_j.
void observe_delta_rule_self(const InnerAttention& inner, const AttentionScratch& s, const AttentionState& state,
                             const float* beta, const float* alpha, float scale, int batch, const LayerStep& step);

// Gated linear attention, after this step's update: the held keys decay with the state, k~_j <- alpha k~_j, so
// A[t, j] = phi(q_t) . k~_j / (phi(q_t) . Z_t + eps), linear attention's formula over them.
void observe_gated_linear_self(const InnerAttention& inner, const AttentionScratch& s, const AttentionState& state,
                               const float* alpha, int batch, const LayerStep& step);

// Softmax attention: s.weights (N*H, >= T) of this step over the cache of `state`.
void observe_full(const InnerAttention& inner, const AttentionScratch& s, const AttentionState& state, int batch,
                  AttentionRole role, const LayerStep& step);

}  // namespace stepscope
