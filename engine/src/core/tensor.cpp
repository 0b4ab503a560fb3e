// Tensor: construction with a size check, element counts that refuse impossible shapes, shape text.
#include "stepscope/tensor.h"

#include <limits>

#include "stepscope/error.h"

namespace stepscope {

const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::F32: return "F32";
        case DType::I64: return "I64";
        case DType::BF16: return "BF16";
    }
    return "unknown";
}

// A zero dimension makes the count 0 whatever the others are, so it is looked
// for first; otherwise the product must stay within int64 to be addressable.
int64_t numel_of(const std::vector<int64_t>& shape) {
    for (int64_t dim : shape) {
        if (dim < 0) throw Error("shape " + shape_to_string(shape) + " has a negative dimension");
    }
    for (int64_t dim : shape) {
        if (dim == 0) return 0;
    }
    int64_t count = 1;
    for (int64_t dim : shape) {
        if (count > std::numeric_limits<int64_t>::max() / dim)
            throw Error("shape " + shape_to_string(shape) + " has more elements than int64 can count");
        count *= dim;
    }
    return count;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
    std::string text = "(";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) text += ", ";
        text += std::to_string(shape[i]);
    }
    return text + ")";
}

namespace {

void require_count(const char* maker, const std::vector<int64_t>& shape, size_t count) {
    const int64_t wanted = numel_of(shape);
    if (count != static_cast<uint64_t>(wanted))
        throw Error(std::string(maker) + ": shape " + shape_to_string(shape) + " needs " + std::to_string(wanted) +
                    " elements, got " + std::to_string(count));
}

}  // namespace

Tensor Tensor::f32(std::vector<int64_t> shape, std::vector<float> values) {
    require_count("Tensor::f32", shape, values.size());
    Tensor tensor;
    tensor.dtype = DType::F32;
    tensor.shape = std::move(shape);
    tensor.values = std::move(values);
    return tensor;
}

Tensor Tensor::f32_zeros(std::vector<int64_t> shape) {
    std::vector<float> zeros(static_cast<size_t>(numel_of(shape)), 0.0f);
    return f32(std::move(shape), std::move(zeros));
}

Tensor Tensor::i64(std::vector<int64_t> shape, std::vector<int64_t> integers) {
    require_count("Tensor::i64", shape, integers.size());
    Tensor tensor;
    tensor.dtype = DType::I64;
    tensor.shape = std::move(shape);
    tensor.integers = std::move(integers);
    return tensor;
}

int64_t Tensor::numel() const { return numel_of(shape); }

std::string Tensor::shape_string() const { return shape_to_string(shape); }

}  // namespace stepscope
