// The memory limit from the environment, the work limit, and their refusals.
#include "stepscope/memory_limit.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "stepscope/error.h"

namespace stepscope {

namespace {

constexpr const char* kLimitVariable = "STEPSCOPE_MAX_MEMORY";

std::string trimmed(const std::string& text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// MemAvailable from /proc/meminfo, or the free physical pages where there is none.
uint64_t available_memory() {
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
        unsigned long long kilobytes = 0;
        if (std::sscanf(line.c_str(), "MemAvailable: %llu kB", &kilobytes) == 1) return kilobytes * 1024;
    }
    const long pages = sysconf(_SC_AVPHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page_size > 0) return uint64_t(pages) * uint64_t(page_size);
    return std::numeric_limits<uint64_t>::max();
}

// Read once: later the process's own allocations would shrink it.
uint64_t available_at_start() {
    static const uint64_t available = available_memory();
    return available;
}

}  // namespace

void require_work(double multiply_adds, const std::string& what) {
    if (multiply_adds <= kMaxStepWork) return;
    char text[96];
    std::snprintf(text, sizeof text, " needs about %.1e multiply-adds, over Stepscope's limit of %.0e", multiply_adds,
                  kMaxStepWork);
    throw Error("refused: " + what + text + " (hours of stepping)");
}

uint64_t parse_byte_count(const std::string& text) {
    const std::string value = trimmed(text);
    size_t end = 0;
    while (end < value.size() && (std::isdigit(static_cast<unsigned char>(value[end])) || value[end] == '.')) ++end;
    const std::string number = value.substr(0, end);
    std::string suffix = value.substr(end);
    for (char& c : suffix) c = char(std::toupper(static_cast<unsigned char>(c)));
    if (suffix.size() > 1 && suffix.back() == 'B') suffix.pop_back();
    const std::string units = "KMGT";
    const size_t unit = suffix.empty() ? std::string::npos : units.find(suffix);
    const bool well_formed = number.find_first_of("0123456789") != std::string::npos && number.size() <= 20 &&
                             std::count(number.begin(), number.end(), '.') <= 1 &&
                             (suffix.empty() || (suffix.size() == 1 && unit != std::string::npos));
    const double scale = suffix.empty() ? 1 : std::ldexp(1.0, int(10 * (unit + 1)));
    const double bytes = well_formed ? std::floor(std::stod(number) * scale) : 0;
    if (!(bytes >= 1 && bytes < 0x1p63))
        throw Error(std::string(kLimitVariable) + " is " + quote_text(text) +
                    ", not a byte count such as 2G, 1.5G, 512M or 1048576");
    return uint64_t(bytes);
}

uint64_t memory_limit() {
    if (const char* limit = std::getenv(kLimitVariable)) return parse_byte_count(limit);
    return available_at_start();
}

std::string byte_text(double bytes) {
    char text[32];
    if (bytes >= 1e12) std::snprintf(text, sizeof text, "%.1f TB", bytes / 1e12);
    else if (bytes >= 1e9) std::snprintf(text, sizeof text, "%.1f GB", bytes / 1e9);
    else if (bytes >= 1e6) std::snprintf(text, sizeof text, "%.1f MB", bytes / 1e6);
    else std::snprintf(text, sizeof text, "%.0f KB", std::ceil(bytes / 1e3));
    return text;
}

void require_memory(double bytes, const std::string& what) {
    const uint64_t limit = memory_limit();
    if (bytes <= double(limit)) return;
    const char* source = std::getenv(kLimitVariable) ? "(STEPSCOPE_MAX_MEMORY)"
                                                     : "(the memory available; STEPSCOPE_MAX_MEMORY sets another)";
    throw Error("refused: " + what + " needs about " + byte_text(bytes) + ", over the memory limit of " +
                byte_text(double(limit)) + " " + source);
}

}  // namespace stepscope
