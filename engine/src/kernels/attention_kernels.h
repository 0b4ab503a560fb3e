// The step kernels of linear and softmax (full) attention, each beside its plain-loop reference.
//
// Shapes: N batch, H heads, D query/key width, M value width, F feature width.
// Heads are rows: row n*H + h holds head h of batch element n.
#pragma once

#include <vector>

#include "stepscope/observer.h"
#include "stepscope/state.h"
#include "stepscope/types.h"

namespace stepscope {

// Linear attention, state update:  S += phi(k) v^T,  Z += phi(k)
//   phi_k (N*H, F), values (N*H, M); state S (N*H*F, M), Z (N*H, F).
void linear_attention_update(const ConstMatrixRef& phi_k, const ConstMatrixRef& values, LinearAttentionState& state);

// Linear attention, readout:  out = phi(q)^T S / (phi(q) . Z + eps)
//   phi_q (N*H, F) -> out (N*H, M).
void linear_attention_readout(const ConstMatrixRef& phi_q, const LinearAttentionState& state, float eps, MatrixRef out);

// Linear attention, a whole step: the update, then the readout from the
// updated state, in one pass over S (which a step otherwise reads three times).
//   phi_k, phi_q (N*H, F), values (N*H, M) -> out (N*H, M).
// With `norms` (an observed step), also ||S|| and ||Z|| of every row after its update, (N*H) each,
// read while the row is in cache rather than in a pass of their own over the whole state.
// With `decay` (N*H), gated linear attention: S <- decay S, Z <- decay Z first, row by row.
void linear_attention_step(const ConstMatrixRef& phi_k, const ConstMatrixRef& values, const ConstMatrixRef& phi_q,
                           float eps, LinearAttentionState& state, MatrixRef out, StateNorms* norms = nullptr,
                           const float* decay = nullptr);

// T steps of linear_attention_step without norms or decay, each head's T steps in turn while its S stays
// in cache: rows (t, r) of phi_k, phi_q (T*R, F), values and out (T*R, M), R = N*H rows a step. Each
// step's arithmetic is linear_attention_step's, so the outputs and state equal T calls of it bit for bit.
void linear_attention_block(const ConstMatrixRef& phi_k, const ConstMatrixRef& values, const ConstMatrixRef& phi_q,
                            float eps, int steps, LinearAttentionState& state, MatrixRef out);

// Softmax attention of one query per head over a cache:
//   a = softmax(temperature * K q) over the valid keys,  out = V^T a
// queries (N*H, D) -> out (N*H, M). `valid_lengths` (N) limits the keys of
// each batch element (cross attention's memory lengths); empty means all
// cache.length keys. A head whose cache was cleared attends to the keys from
// cache.start(row) on; with none left its output is 0. `weights` (N*H, >= T)
// receives a, masked keys and those before the start 0.
void full_attention(const ConstMatrixRef& queries, const KeyValueCache& cache, float temperature,
                    const std::vector<int>& valid_lengths, int heads, MatrixRef out, RowMatrix& weights);

// The same kernels in plain loops: what tests hold the fast paths to.
namespace reference {

void linear_attention_update(const ConstMatrixRef& phi_k, const ConstMatrixRef& values, LinearAttentionState& state);
void linear_attention_readout(const ConstMatrixRef& phi_q, const LinearAttentionState& state, float eps, MatrixRef out);
void linear_attention_step(const ConstMatrixRef& phi_k, const ConstMatrixRef& values, const ConstMatrixRef& phi_q,
                           float eps, LinearAttentionState& state, MatrixRef out, const float* decay = nullptr);
void full_attention(const ConstMatrixRef& queries, const KeyValueCache& cache, float temperature,
                    const std::vector<int>& valid_lengths, int heads, MatrixRef out, RowMatrix& weights);

}  // namespace reference

}  // namespace stepscope
