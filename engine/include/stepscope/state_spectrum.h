// The spectrum of linear attention's state: the singular values of each head's S (D, M) and its effective rank.
#pragma once

#include "stepscope/types.h"

namespace stepscope {

// sums S (R*D, M), rows (r, d) -> singular_values (R, min(D, M)), each row descending.
// Fast path: the eigenvalues of the smaller Gram matrix, formed and solved in
// double (Householder tridiagonalization, then a root-free QL iteration that
// stops at eps ||Gram||), so values near 0 keep an accuracy relative to the
// largest of about 1e-8.
void singular_values(const ConstMatrixRef& sums, int features, RowMatrix& singular);

// exp(-sum_i p_i log p_i) with p_i = sigma_i / sum_j sigma_j: from 1 (one direction
// holds everything) to count (all directions equal); 0 when every sigma is 0.
float effective_rank(const float* sigma, int count);

}  // namespace stepscope
