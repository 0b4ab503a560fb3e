// A decoder's memory as a tensor file holds it: `memory` (N, S, E) and, optionally, `memory_lengths` (N).
#pragma once

#include <string>

#include "stepscope/model.h"
#include "stepscope/tensor.h"

namespace stepscope {

// Reads `memory` (N, S, E) float and `memory_lengths` (N) I64 with values in 1..S (all S when absent).
// Throws Error beginning with `source` (the file's path) for a missing tensor, a wrong rank or dtype, or a
// length outside 1..S. Whether the memory fits a model is the model's to check when it steps.
Memory decoder_memory(const TensorMap& tensors, const std::string& source);

}  // namespace stepscope
