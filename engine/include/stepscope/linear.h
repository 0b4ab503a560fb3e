// A dense layer y = x W^T + b with the reference's (out_features, in_features) weight layout.
#pragma once

#include <cstdint>
#include <vector>

#include "stepscope/types.h"

namespace stepscope {

class Linear {
public:
    Linear() = default;
    Linear(RowMatrix weight, Vector bias);  // weight (out, in), bias (out)

    int in_features() const { return static_cast<int>(weight_.cols()); }
    int out_features() const { return static_cast<int>(weight_.rows()); }
    const RowMatrix& weight() const { return weight_; }
    const Vector& bias() const { return bias_; }

    // Keep a bfloat16 copy of the weight and use it in forward(); accumulation
    // stays float32. The float32 weight is kept for saving and for forward_scalar.
    void use_bf16(bool enabled);
    bool uses_bf16() const { return !weight_bf16_.empty(); }

    // x (N, in) -> y (N, out). y is resized only when its shape differs, so a
    // steady-state step allocates nothing.
    void forward(const ConstMatrixRef& x, RowMatrix& y) const;

    // The same product in plain loops, the reference for tests.
    void forward_scalar(const ConstMatrixRef& x, RowMatrix& y) const;

private:
    RowMatrix weight_;
    Vector bias_;
    std::vector<uint16_t> weight_bf16_;  // (out, in), row-major, when use_bf16
};

// Concatenates layers that read the same input into one product, so the query,
// key and value projections of a step cost one pass over x.
Linear concatenate_outputs(const std::vector<const Linear*>& parts);

}  // namespace stepscope
