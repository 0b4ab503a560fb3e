// The limits every command and the explorer hold a request to, whatever asks: a file reader that sizes a
// tensor from its header, a run that estimates its state (memory_budget.h), a command that counts its work.
//
// The memory limit is STEPSCOPE_MAX_MEMORY (bytes, or with a K, M, G or T suffix: 512M, 2G), else the
// memory the machine had available (MemAvailable) when the limit was first asked for.
#pragma once

#include <cstdint>
#include <string>

namespace stepscope {

// The most multiply-adds one command steps: 1e14, roughly 1.5 to 5 hours on two cores (the seed
// example's 100,000-step soak is 1.4e13). Beyond it a run is refused before it starts, as an absurd
// memory need is.
constexpr double kMaxStepWork = 1e14;
// Throws Error "refused: WHAT needs about 2.1e+15 multiply-adds, over Stepscope's limit of 1e+14
// (hours of stepping)" when `multiply_adds` exceeds kMaxStepWork.
void require_work(double multiply_adds, const std::string& what);

// A byte count such as "2G", "1.5G", "512M" or "1048576" (K, M, G, T are powers of 1024; a
// trailing B is allowed). Throws Error quoting the text for anything else, zero included.
uint64_t parse_byte_count(const std::string& text);
// STEPSCOPE_MAX_MEMORY, else the available memory. Throws Error when the variable is malformed.
uint64_t memory_limit();
// "6.4 GB", "12.0 MB", "3.1 TB": decimal units, as the refusals print them.
std::string byte_text(double bytes);

// Throws Error "refused: WHAT needs about 6.4 GB, over the memory limit of 2.0 GB
// (STEPSCOPE_MAX_MEMORY)" when `bytes` exceeds memory_limit().
void require_memory(double bytes, const std::string& what);

}  // namespace stepscope
