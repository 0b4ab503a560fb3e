// Reading a file the user named: regular files only, and no more bytes than the caller allows.
//
// A device (/dev/zero), a FIFO or a folder given as a model, config, input or session would be
// read forever or not at all: each is refused in one line naming the path, as is a file larger
// than the caller's bound, before any of it is read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stepscope {

// Throws Error naming `path` unless it is a regular file of at most `max_bytes` bytes;
// `bound` says in the message what sets the bound ("the memory limit").
void require_regular_file(const std::string& path, uint64_t max_bytes, const std::string& bound);

// The whole file, with the same checks made on the open file itself.
std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_bytes, const std::string& bound);

}  // namespace stepscope
