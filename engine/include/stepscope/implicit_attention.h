// The implicit attention of linear attention: the weights its output gives each earlier value.
//
// Linear attention's readout phi(q_t)^T S_t / (phi(q_t) . Z_t + eps), with
// S_t = sum_{j<=t} phi(k_j) v_j^T, expands to sum_j A[t, j] v_j with
//   A[t, j] = phi(q_t) . phi(k_j) / (phi(q_t) . Z_t + eps).
// Given the keys' features, the weights are exact: they reproduce the output.
#pragma once

#include <vector>

#include "stepscope/observation.h"
#include "stepscope/types.h"

namespace stepscope {

// One step's weights over the held keys of `keys` from held key `first_column` on:
//   phi_q (R, F), normalizer Z (R, F), keys rows R -> weights (R, K - first_column), K = keys.length(),
//   column c the key held at first_column + c (chronological). `valid_lengths` (R/heads per
//   batch element) zeroes the held keys from valid_lengths[n] on (a cross
//   attention's memory mask); empty means all K valid.
void linear_attention_weights(const ConstMatrixRef& phi_q, const ConstMatrixRef& normalizer, float eps,
                              const FeatureHistory& keys, const std::vector<int>& valid_lengths, int heads,
                              RowMatrix& weights, int first_column = 0);

// -sum_c w[c] log w[c] over the positive weights of each row: weights (R, K) -> (R), in nats.
std::vector<float> row_entropy(const ConstMatrixRef& weights);

}  // namespace stepscope
