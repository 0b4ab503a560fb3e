// The step kernels of the delta rules (delta, gated-delta), each beside its plain-loop reference, and the
// parallel form of the delta-rule family (gated linear attention steps by linear attention's kernel, with its decay).
//
// Shapes: N batch, H heads, F feature width (keys and queries after the feature map), M value width.
// Heads are rows: row n*H + h. Gates are one value per row, already squashed to (0, 1).
#pragma once

#include "stepscope/observer.h"
#include "stepscope/state.h"
#include "stepscope/types.h"

namespace stepscope {

// The delta rule (DeltaNet), or with a forget gate alpha the gated delta rule (Gated DeltaNet), one step:
//   S <- alpha S                (no gate: alpha null)
//   e  = v - S^T k              (what the memory did not predict for this key)
//   S <- S + beta k e^T         (write the difference)
//   out = scale S^T q
// keys, queries (N*H, F) of unit length; values (N*H, M); beta, alpha (N*H); sums S (N*H*F, M) ->
// errors e (N*H, M), out (N*H, M). With `norms`, ||S|| of each row after its update (norms' first component).
void delta_rule_step(const ConstMatrixRef& keys, const ConstMatrixRef& values, const ConstMatrixRef& queries,
                     const float* beta, const float* alpha, float scale, RowMatrix& sums, MatrixRef errors,
                     MatrixRef out, StateNorms* norms = nullptr);

// Projected gates (G, N*H) to the (0, 1) the family's beta and alpha live in: sigmoid, in place.
void squash_gates(RowMatrix& gates);

// Rows of x (R, F) scaled to unit length in place; a zero row stays zero.
void normalize_rows(RowMatrix& x);

// The parallel form over one head's sequence: weights A (T, T), lower triangular, with o = A V exactly.
// With G[t, j] = alpha_{j+1} ... alpha_t (all 1 without a forget gate):
//   delta rules:  A = (tril(Q K^T) * G * scale) (I + strictly_lower(diag(beta) (K K^T * G)))^-1 diag(beta)
//   gated linear: A[t, j] = G[t, j] q_t . k_j / (sum_{i<=t} G[t, i] q_t . k_i + eps)
// keys, queries (T, F) (the delta rules': of unit length), beta and alpha (T); an empty alpha is no gate.
void delta_rule_weights(const ConstMatrixRef& keys, const ConstMatrixRef& queries, const Vector& beta,
                        const Vector& alpha, float scale, RowMatrix& weights);
void gated_linear_weights(const ConstMatrixRef& phi_k, const ConstMatrixRef& phi_q, const Vector& alpha, float eps,
                          RowMatrix& weights);

// The same kernels in plain loops: what tests hold the fast paths to.
namespace reference {

void delta_rule_step(const ConstMatrixRef& keys, const ConstMatrixRef& values, const ConstMatrixRef& queries,
                     const float* beta, const float* alpha, float scale, RowMatrix& sums, MatrixRef errors,
                     MatrixRef out);
}  // namespace reference

}  // namespace stepscope
