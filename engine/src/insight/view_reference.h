// Plain references of the views' fast paths (implicit_attention.h, state_spectrum.h), which the tests compare them
// with.
#pragma once

#include <vector>

#include "stepscope/implicit_attention.h"
#include "stepscope/types.h"

namespace stepscope::reference {

// linear_attention_weights as one loop per row, key and feature.
void linear_attention_weights(const ConstMatrixRef& phi_q, const ConstMatrixRef& normalizer, float eps,
                              const FeatureHistory& keys, const std::vector<int>& valid_lengths, int heads,
                              RowMatrix& weights, int first_column = 0);

// singular_values by a two-sided Jacobi SVD of each head's S in double.
void singular_values(const ConstMatrixRef& sums, int features, RowMatrix& singular);

}  // namespace stepscope::reference
