// Reading a decoder's memory from tensors: the replay command, the explorer's memory files and the golden tests.
#include "stepscope/decoder_memory.h"

#include <limits>

#include "stepscope/error.h"

namespace stepscope {

Memory decoder_memory(const TensorMap& tensors, const std::string& source) {
    const auto found = tensors.find("memory");
    if (found == tensors.end()) throw Error(source + ": no tensor 'memory' (N, S, E)");
    const Tensor& values = found->second;
    if (values.dtype == DType::I64 || values.shape.size() != 3 || values.shape[1] < 1)
        throw Error(source + ": tensor 'memory' must be a float tensor (N, S, E) with S >= 1, got " +
                    values.shape_string());
    if (values.shape[0] > std::numeric_limits<int>::max() || values.shape[1] > std::numeric_limits<int>::max())
        throw Error(source + ": tensor 'memory' " + values.shape_string() + " has more sequences or elements than " +
                    "a decoder takes");
    Memory memory;
    memory.batch = static_cast<int>(values.shape[0]);
    memory.length = static_cast<int>(values.shape[1]);
    memory.values =
        Eigen::Map<const RowMatrix>(values.values.data(), values.shape[0] * values.shape[1], values.shape[2]);
    if (const auto lengths = tensors.find("memory_lengths"); lengths != tensors.end()) {
        const Tensor& given = lengths->second;
        if (given.dtype != DType::I64 || given.shape != std::vector<int64_t>{values.shape[0]})
            throw Error(source + ": tensor 'memory_lengths' must be I64 of shape (" + std::to_string(memory.batch) +
                        "), got " + given.shape_string());
        for (const int64_t length : given.integers)
            if (length < 1 || length > memory.length)
                throw Error(source + ": memory_lengths must be in 1.." + std::to_string(memory.length) + ", got " +
                            std::to_string(length));
        memory.lengths = given.integers;
    }
    return memory;
}

}  // namespace stepscope
