// A dense layer y = x W^T + b with the reference's (out_features, in_features) weight layout.
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Core>

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

    // Stream bfloat16 weights in forward(), rounded to nearest even from the
    // float32 ones; accumulation stays float32. weight() stays float32, for saving.
    void use_bf16(bool enabled);
    bool uses_bf16() const { return !packed_bf16_.empty(); }

    // x (N, in) -> y (N, out). y is resized only when its shape differs, so a
    // steady-state step allocates nothing. Splits the outputs across oneTBB
    // workers when the product is large enough to pay for it; every output is
    // computed by the same instruction sequence whatever the split, so results
    // do not depend on the thread count.
    void forward(const ConstMatrixRef& x, RowMatrix& y) const;

    // The same product in plain loops over the weights forward() uses (the
    // bfloat16-rounded ones under use_bf16): the reference for tests.
    void forward_scalar(const ConstMatrixRef& x, RowMatrix& y) const;

private:
    template <typename T>
    using AlignedVector = std::vector<T, Eigen::aligned_allocator<T>>;

    RowMatrix weight_;
    Vector bias_;
    // The weight in panels of a fixed number of outputs (P, in, panel): one
    // panel is a contiguous stream that a kernel reads once per step, the
    // last panel zero-padded. Float32, or bfloat16 under use_bf16.
    AlignedVector<float> packed_;
    AlignedVector<uint16_t> packed_bf16_;
    AlignedVector<float> padded_bias_;  // (P * panel), zero-padded
};

// Concatenates layers that read the same input into one product, so the query,
// key and value projections of a step cost one pass over x.
Linear concatenate_outputs(const std::vector<const Linear*>& parts);

}  // namespace stepscope
