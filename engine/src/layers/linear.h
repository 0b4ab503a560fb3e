// A dense layer y = x W^T + b with the reference's (out_features, in_features) weight layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "stepscope/cpu_kernels.h"
#include "stepscope/types.h"

namespace stepscope {

namespace kernels {
struct LinearKernels;
}

// How forward() stores the weights it streams. Accumulation is float32 in every format.
enum class WeightFormat {
    F32,
    Bf16,  // bfloat16, rounded to nearest even, and the input rounded alike: a bfloat16 product
    Q8,    // llama.cpp's q8_0: per output, blocks of 32 int8 weights with one float scale; the
           // input is quantised the same way per row, and each block's sum is an integer dot product
};

class Linear {
public:
    Linear();
    Linear(RowMatrix weight, Vector bias);  // weight (out, in), bias (out)

    int in_features() const { return static_cast<int>(weight_.cols()); }
    int out_features() const { return static_cast<int>(weight_.rows()); }
    const RowMatrix& weight() const { return weight_; }
    const Vector& bias() const { return bias_; }

    // The format forward() streams, converted from the float32 weights (F32 on construction).
    // weight() stays float32, for saving.
    void use_format(WeightFormat format);
    WeightFormat format() const { return format_; }
    // Bytes of packed weights forward() reads per call.
    std::size_t packed_bytes() const;

    // x (N, in) -> y (N, out). y is resized only when its shape differs, so a
    // steady-state step allocates nothing. Splits the outputs across oneTBB
    // workers when the product is large enough to pay for it; every output is
    // computed by the same instruction sequence whatever the split, so results
    // do not depend on the thread count.
    void forward(const ConstMatrixRef& x, RowMatrix& y) const;

    // The same product in plain loops over the weights forward() uses (the
    // bfloat16-rounded ones and input under Bf16; under Q8 the quantised weights
    // and input, summed per block in integers): the reference for tests.
    void forward_scalar(const ConstMatrixRef& x, RowMatrix& y) const;

private:
    template <typename T>
    using AlignedVector = std::vector<T, Eigen::aligned_allocator<T>>;

    void pack();

    RowMatrix weight_;
    Vector bias_;
    WeightFormat format_ = WeightFormat::F32;
    // The kernels of the instruction set chosen at construction; their panel
    // width fixes the packed layout.
    const kernels::LinearKernels* kernels_ = nullptr;
    // The weight in panels of a fixed number of outputs (P, panel stream): one
    // panel is a contiguous stream that a kernel reads once per step, the
    // last panel zero-padded. Only the vector of format_ is filled; the layouts
    // are linear_kernels.h's.
    AlignedVector<float> packed_;
    AlignedVector<uint16_t> packed_bf16_;
    AlignedVector<uint8_t> packed_q8_;
    AlignedVector<float> padded_bias_;  // (P * panel), zero-padded
};

// Concatenates layers that read the same input into one product, so the query,
// key and value projections of a step cost one pass over x.
Linear concatenate_outputs(const std::vector<const Linear*>& parts);

}  // namespace stepscope
