// Builds a stack's layers on oneTBB workers: each layer is drawn or read, and packed, independently.
#pragma once

#include <tbb/parallel_for.h>

#include <optional>
#include <vector>

namespace stepscope {

// make(i) -> layer i, for i in 0..count-1, called concurrently; the layers come back in order. A layer is
// built from its own tensors alone, so the result does not depend on the thread count, and at most one
// layer's tensors per worker are alive at a time besides the layers built.
template <typename Layer, typename Make>
std::vector<Layer> build_layers(int count, Make make) {
    std::vector<std::optional<Layer>> built(static_cast<size_t>(count));
    tbb::parallel_for(0, count, [&](int i) { built[size_t(i)].emplace(make(i)); });
    std::vector<Layer> layers;
    layers.reserve(static_cast<size_t>(count));
    for (std::optional<Layer>& layer : built) layers.push_back(std::move(*layer));
    return layers;
}

}  // namespace stepscope
