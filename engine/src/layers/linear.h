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
    // weight (out, in), bias (out), packed straight into `format`'s panels.
    Linear(const ConstMatrixRef& weight, const Vector& bias, WeightFormat format = WeightFormat::F32);

    int in_features() const { return in_; }
    int out_features() const { return out_; }
    // The float32 weights (out, in) as given, for saving: unpacked from the panels under F32, which
    // hold them exactly and are the only copy; the originals kept beside the reduced panels otherwise.
    RowMatrix weight() const;
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

    void pack(const ConstMatrixRef& weight);

    int in_ = 0, out_ = 0;
    RowMatrix weight_;  // the float32 originals under Bf16 and Q8 only: under F32 packed_ holds them
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

}  // namespace stepscope
