// The session and CSV readers take a path: each fuzz input goes into one scratch file per process.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace stepscope::fuzz {

class ScratchFile {
public:
    explicit ScratchFile(const std::string& suffix)
        : path_(std::filesystem::temp_directory_path() / ("stepscope-fuzz-" + std::to_string(getpid()) + suffix)) {}
    ~ScratchFile() { std::filesystem::remove(path_); }

    // Replaces the file's contents with the input; returns its path.
    std::string hold(const uint8_t* data, size_t size) {
        std::ofstream(path_, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), long(size));
        return path_.string();
    }

private:
    std::filesystem::path path_;
};

}  // namespace stepscope::fuzz
