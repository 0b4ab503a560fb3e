// The read-bandwidth probe: a parallel exclusive-or over a large buffer, in the chunks a step's weight panels come in.
#include "stepscope/read_bandwidth.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>

#include <chrono>
#include <numeric>

namespace stepscope {

namespace {

// Words per task: 256 KB, the order of one weight panel of the seed example.
constexpr long kChunk = 1L << 15;

}  // namespace

// Filled, so every page is touched before the first measurement.
ReadBandwidthProbe::ReadBandwidthProbe(std::size_t bytes) : buffer_(bytes / sizeof(uint64_t)) {
    std::iota(buffer_.begin(), buffer_.end(), uint64_t(1));
}

double ReadBandwidthProbe::measure() const {
    const long size = static_cast<long>(buffer_.size());
    const auto start = std::chrono::steady_clock::now();
    // An integer reduction: its one-cycle operation keeps even SSE's 16-byte vectors ahead of memory,
    // where a float sum waits on its adds' latency.
    checksum_ = tbb::parallel_reduce(
        tbb::blocked_range<long>(0, size, kChunk), uint64_t(0),
        [&](const tbb::blocked_range<long>& range, uint64_t partial) {
            for (long i = range.begin(); i < range.end(); ++i) partial ^= buffer_[i];
            return partial;
        },
        [](uint64_t a, uint64_t b) { return a ^ b; });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return double(bytes()) / seconds;
}

}  // namespace stepscope
