// Atomic file writes: a reader sees the old file or the whole new one, never a part of it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stepscope {

// Writes `bytes` into a new file beside `path` under a unique name (never one that
// already exists), flushes it to disk and renames it over `path`. Throws Error
// naming `path`; then `path` is as it was and no temporary file is left.
void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace stepscope
