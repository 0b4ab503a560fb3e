// Atomic file writes through a uniquely named temporary file in the target's folder.
#include "stepscope/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "stepscope/error.h"

namespace stepscope {

namespace {

// Creates and opens an empty file named `path`.<random>.tmp. The "x" mode fails
// rather than open a file that exists, so an unrelated file is never touched.
std::FILE* create_temporary_beside(const std::string& path, std::string& name) {
    std::random_device entropy;
    for (int attempt = 0; attempt < 64; ++attempt) {
        char suffix[24];
        std::snprintf(suffix, sizeof suffix, ".%08x.tmp", unsigned(entropy()));
        name = path + suffix;
        if (std::FILE* file = std::fopen(name.c_str(), "wbx")) return file;
        if (errno != EEXIST) break;
    }
    throw Error("cannot write " + path + ": " + std::strerror(errno));
}

}  // namespace

// std::filesystem::rename replaces an existing file on every platform, std::rename not on Windows.
void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::string temporary;
    std::FILE* out = create_temporary_beside(path, temporary);
    bool written = std::fwrite(bytes.data(), 1, bytes.size(), out) == bytes.size() && std::fflush(out) == 0 &&
                   fsync(fileno(out)) == 0;
    int write_errno = errno;
    if (std::fclose(out) != 0 && written) {
        written = false;
        write_errno = errno;
    }
    std::error_code failure;
    if (written) std::filesystem::rename(temporary, path, failure);
    if (!written || failure) {
        std::remove(temporary.c_str());
        throw Error("cannot write " + path + ": " + (failure ? failure.message() : std::strerror(write_errno)));
    }
}

}  // namespace stepscope
