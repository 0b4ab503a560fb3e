// The machine's memory read bandwidth, measured the way a step reads its weights: one streaming
// pass over a buffer far larger than the caches, split across the oneTBB workers.
//
//   ReadBandwidthProbe probe;                      // allocates and touches the buffer once
//   const double bytes_per_second = probe.measure();
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace stepscope {

class ReadBandwidthProbe {
public:
    // 256 MiB: eight times the largest last-level caches of the machines this runs on.
    static constexpr std::size_t kDefaultBytes = std::size_t(256) << 20;

    explicit ReadBandwidthProbe(std::size_t bytes = kDefaultBytes);
    std::size_t bytes() const { return buffer_.size() * sizeof(uint64_t); }
    // Reads the buffer once and returns bytes per second.
    double measure() const;

private:
    std::vector<uint64_t> buffer_;
    mutable uint64_t checksum_ = 0;  // the reads' result, kept so that they are not optimised away
};

}  // namespace stepscope
