// Reading and writing the safetensors format (the reference's weight files and Stepscope's snapshots).
//
//   8 bytes   u64 little-endian N: length of the JSON header
//   N bytes   JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
//                   "__metadata__": {"key": "string"}}
//   rest      raw little-endian tensor bytes, offsets relative to the end of the header
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "stepscope/tensor.h"

namespace stepscope {

struct SafetensorsFile {
    TensorMap tensors;
    std::map<std::string, std::string> metadata;
};

// Parses a whole file held in memory. Supports F32, BF16 (widened to float and
// marked F32) and I64. Throws Error naming the byte offset or the tensor for
// anything damaged: short file, header length past the end, malformed JSON,
// unknown dtype, shape and byte size that disagree, offsets outside the data or
// overlapping.
SafetensorsFile parse_safetensors(const std::vector<uint8_t>& bytes);

// Reads and parses `path`; a missing or unreadable file is an Error naming it.
SafetensorsFile read_safetensors(const std::string& path);

// Serialises with tensors in name order, F32 and I64 as stored in the Tensor
// (BF16 rounded to nearest even); throws Error when a tensor's storage does not
// match its shape.
std::vector<uint8_t> serialize_safetensors(const SafetensorsFile& file);

// Writes atomically (write_file_atomically): `path` holds the old file or the new one, never a mix.
void write_safetensors(const std::string& path, const SafetensorsFile& file);

}  // namespace stepscope
