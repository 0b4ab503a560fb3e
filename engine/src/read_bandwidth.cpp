// The read-bandwidth probe: a parallel sum over a large buffer, in the chunks a step's weight panels come in.
#include "stepscope/read_bandwidth.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>

#include <Eigen/Core>

#include <chrono>

namespace stepscope {

namespace {

// Floats per task: 256 KB, the order of one weight panel of the seed example.
constexpr long kChunk = 1L << 16;

}  // namespace

ReadBandwidthProbe::ReadBandwidthProbe(std::size_t bytes) : buffer_(bytes / sizeof(float), 1.0f) {}

double ReadBandwidthProbe::measure() const {
    const long size = static_cast<long>(buffer_.size());
    const auto start = std::chrono::steady_clock::now();
    const float sum = tbb::parallel_reduce(
        tbb::blocked_range<long>(0, size, kChunk), 0.0f,
        [&](const tbb::blocked_range<long>& range, float partial) {
            return partial + Eigen::Map<const Eigen::ArrayXf>(buffer_.data() + range.begin(), range.size()).sum();
        },
        [](float a, float b) { return a + b; });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // The sum is used, so the compiler cannot drop the reads.
    return sum > 0 ? double(bytes()) / seconds : 0;
}

}  // namespace stepscope
