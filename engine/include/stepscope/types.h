// Eigen aliases shared by the whole engine.
#pragma once

#include <Eigen/Core>

#include <cstdint>

namespace stepscope {

// Row-major so that a (N, E) batch keeps each sequence element contiguous and
// a (N*H, D) view of projected heads is a plain reshape of (N, H*D).
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXf;
using RowVector = Eigen::Matrix<float, 1, Eigen::Dynamic>;
// bfloat16 values as their bits (the upper half of a float32), for caches kept at half the bytes.
using Bf16Matrix = Eigen::Matrix<uint16_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

using MatrixRef = Eigen::Ref<RowMatrix>;
using ConstMatrixRef = Eigen::Ref<const RowMatrix>;

}  // namespace stepscope
