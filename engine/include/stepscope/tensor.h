// A named n-dimensional array as it is stored on disk: shape plus contiguous row-major data.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace stepscope {

enum class DType { F32, I64, BF16 };

const char* dtype_name(DType dtype);

// Row-major (C order) storage. Floating tensors keep their values in `values`
// (BF16 files are widened on load and come back marked F32; a Tensor marked
// BF16 is rounded to bfloat16 when written); I64 tensors keep theirs in `integers`.
struct Tensor {
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::vector<float> values;
    std::vector<int64_t> integers;

    static Tensor f32(std::vector<int64_t> shape, std::vector<float> values);
    static Tensor f32_zeros(std::vector<int64_t> shape);
    static Tensor i64(std::vector<int64_t> shape, std::vector<int64_t> integers);

    int64_t numel() const;
    std::string shape_string() const;  // "(2, 3, 8)"
};

using TensorMap = std::map<std::string, Tensor>;

// Throws Error for a negative dimension or a count that overflows int64.
int64_t numel_of(const std::vector<int64_t>& shape);
std::string shape_to_string(const std::vector<int64_t>& shape);

}  // namespace stepscope
