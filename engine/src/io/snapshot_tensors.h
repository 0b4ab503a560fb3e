// Reading and writing a state's tensors in a snapshot: the helpers snapshot.cpp and each attention kind share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stepscope/tensor.h"
#include "stepscope/types.h"

namespace stepscope::snapshot {

Tensor tensor_of(const RowMatrix& m, std::vector<int64_t> shape);

// Throws Error unless the snapshot holds `name`.
const Tensor& require(const TensorMap& tensors, const std::string& name);
// The same, of rank `rank` with the `leading` dimensions given, floating point.
const Tensor& require_shape(const TensorMap& tensors, const std::string& name, size_t rank,
                            const std::vector<int64_t>& leading);

// A tensor's values as `rows` rows.
RowMatrix matrix(const Tensor& t, long rows);

}  // namespace stepscope::snapshot
