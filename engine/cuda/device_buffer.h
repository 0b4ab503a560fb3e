// An owned device allocation of T, with uploads from and downloads to host memory on a stream.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "cuda_check.h"

namespace stepscope::cuda {

template <typename T>
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(std::size_t count) { allocate(count); }
    ~DeviceBuffer() { release(); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    DeviceBuffer(DeviceBuffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }

    T* data() { return data_; }
    const T* data() const { return data_; }
    std::size_t size() const { return size_; }

    // Exactly `count` elements, contents undefined; reallocates only when the size differs.
    void allocate(std::size_t count) {
        if (count == size_) return;
        release();
        if (count) STEPSCOPE_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)));
        size_ = count;
    }
    void allocate_zeros(std::size_t count, cudaStream_t stream) {
        allocate(count);
        if (count) STEPSCOPE_CUDA_CHECK(cudaMemsetAsync(data_, 0, count * sizeof(T), stream));
    }
    // Allocates `count` elements and copies them from `host`.
    void upload(const T* host, std::size_t count, cudaStream_t stream) {
        allocate(count);
        if (count)
            STEPSCOPE_CUDA_CHECK(cudaMemcpyAsync(data_, host, count * sizeof(T), cudaMemcpyHostToDevice, stream));
    }
    // The first `count` elements into `host`; the caller synchronises the stream before reading them.
    void download(T* host, std::size_t count, cudaStream_t stream) const {
        if (count)
            STEPSCOPE_CUDA_CHECK(cudaMemcpyAsync(host, data_, count * sizeof(T), cudaMemcpyDeviceToHost, stream));
    }

private:
    void release() noexcept {
        if (data_) cudaFree(data_);  // no throw from a destructor; a failure here has nothing left to undo
        data_ = nullptr;
        size_ = 0;
    }

    T* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace stepscope::cuda
