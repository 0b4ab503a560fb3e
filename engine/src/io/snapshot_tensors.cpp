// The tensors of a state in a snapshot, shared by snapshot.cpp and each attention kind.
#include "io/snapshot_tensors.h"

#include "stepscope/error.h"

namespace stepscope {

Tensor snapshot::tensor_of(const RowMatrix& m, std::vector<int64_t> shape) {
    return Tensor::f32(std::move(shape), std::vector<float>(m.data(), m.data() + m.size()));
}

const Tensor& snapshot::require(const TensorMap& tensors, const std::string& name) {
    const auto found = tensors.find(name);
    if (found == tensors.end()) throw Error("snapshot has no tensor " + quote_text(name));
    return found->second;
}

const Tensor& snapshot::require_shape(const TensorMap& tensors, const std::string& name, size_t rank,
                                      const std::vector<int64_t>& leading) {
    const Tensor& tensor = require(tensors, name);
    bool ok = tensor.shape.size() == rank && tensor.dtype != DType::I64;
    for (size_t i = 0; ok && i < leading.size(); ++i) ok = tensor.shape[i] == leading[i];
    for (size_t i = 0; ok && i < tensor.shape.size(); ++i) ok = tensor.shape[i] >= 0;
    if (!ok)
        throw Error("snapshot tensor '" + name + "' has shape " + tensor.shape_string() +
                    ", which does not fit the model");
    return tensor;
}

RowMatrix snapshot::matrix(const Tensor& t, long rows) {
    return Eigen::Map<const RowMatrix>(t.values.data(), rows, rows ? t.numel() / rows : 0);
}

}  // namespace stepscope
