// Whole-file reads restricted to regular files of a bounded size.
#include "stepscope/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "stepscope/error.h"
#include "stepscope/memory_limit.h"

namespace stepscope {

namespace {

// A path may come from a session file: quoted, escaped and cut (error.h).
Error cannot_open(const std::string& path, const std::string& why) {
    return Error("cannot open " + quote_text(path) + ": " + why);
}

std::string kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISFIFO(mode)) return "a pipe (FIFO)";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
    if (S_ISSOCK(mode)) return "a socket";
    return "a special file";
}

void check(const std::string& path, const struct stat& info, uint64_t max_bytes, const std::string& bound) {
    if (!S_ISREG(info.st_mode)) throw cannot_open(path, "it is " + kind_of(info.st_mode) + ", not a regular file");
    if (uint64_t(info.st_size) > max_bytes)
        throw Error(quote_text(path) + ": the file is " + byte_text(double(info.st_size)) + ", more than the " +
                    byte_text(double(max_bytes)) + " allowed by " + bound);
}

// Closes the descriptor on every path out.
struct Descriptor {
    int fd;
    ~Descriptor() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

void require_regular_file(const std::string& path, uint64_t max_bytes, const std::string& bound) {
    struct stat info;
    if (::stat(path.c_str(), &info) != 0) throw cannot_open(path, std::strerror(errno));
    check(path, info, max_bytes, bound);
}

std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_bytes, const std::string& bound) {
    // Non-blocking, so that opening a FIFO without a writer returns at once; checked before reading.
    const Descriptor file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
    if (file.fd < 0) throw cannot_open(path, std::strerror(errno));
    struct stat info;
    if (::fstat(file.fd, &info) != 0) throw cannot_open(path, std::strerror(errno));
    check(path, info, max_bytes, bound);
    std::vector<uint8_t> bytes(size_t(info.st_size));
    size_t got = 0;
    while (got < bytes.size()) {
        const ssize_t n = ::read(file.fd, bytes.data() + got, bytes.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error("cannot read " + quote_text(path) + ": " + std::strerror(errno));
        if (n == 0) break;
        got += size_t(n);
    }
    bytes.resize(got);  // a file that shrank while read is parsed as what was there
    return bytes;
}

}  // namespace stepscope
