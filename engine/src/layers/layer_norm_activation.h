// Layer normalisation and the feed-forward activations, as torch.nn.LayerNorm, F.relu and F.gelu.
#pragma once

#include "stepscope/config.h"
#include "stepscope/types.h"

namespace stepscope {

struct LayerNorm {
    static constexpr float kEps = 1e-5f;  // torch.nn.LayerNorm default
    Vector weight;
    Vector bias;

    // Normalises each row of x in place over its last dimension.
    void apply(MatrixRef x) const;
    void apply_scalar(MatrixRef x) const;
};

void apply_activation(Activation activation, MatrixRef x);

namespace reference {
void apply_activation(Activation activation, MatrixRef x);  // gelu with std::erf
}  // namespace reference

}  // namespace stepscope
