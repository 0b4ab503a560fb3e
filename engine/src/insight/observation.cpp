// Observation: the observed layers and the ring of key features that implicit attention reads.
#include "stepscope/observation.h"

#include <algorithm>

namespace stepscope {

void FeatureHistory::restart(int rows, int features, int window, int64_t first_step) {
    keys_.resize(0, 0);
    rows_ = rows;
    features_ = features;
    window_ = std::max(1, window);
    length_ = start_ = 0;
    end_step_ = first_step;
}

void FeatureHistory::append(const ConstMatrixRef& phi_k) {
    const int capacity = features_ ? static_cast<int>(keys_.cols() / features_) : 0;
    if (length_ == capacity && capacity < window_) {
        // Not yet wrapped, so the held steps lie in order from slot 0: grow geometrically up to the window.
        const int grown = std::min(window_, std::max(16, 2 * capacity));
        RowMatrix larger(rows_, long(grown) * features_);
        larger.leftCols(keys_.cols()) = keys_;
        keys_.swap(larger);
    }
    const int slots = static_cast<int>(keys_.cols() / features_);
    int slot;
    if (length_ < slots) {
        slot = (start_ + length_) % slots;
        ++length_;
    } else {  // full: the newest step takes the oldest one's slot
        slot = start_;
        start_ = (start_ + 1) % slots;
    }
    keys_.middleCols(long(slot) * features_, features_) = phi_k;
    ++end_step_;
}

void FeatureHistory::truncate(int64_t step) {
    length_ -= static_cast<int>(end_step_ - step);
    end_step_ = step;
}

const float* FeatureHistory::features_of(int row, int c) const {
    const int slots = static_cast<int>(keys_.cols() / features_);
    return keys_.row(row).data() + long((start_ + c) % slots) * features_;
}

float* FeatureHistory::features_of(int row, int c) {
    return const_cast<float*>(static_cast<const FeatureHistory&>(*this).features_of(row, c));
}

Observation::Observation(ObservationOptions options) : options_(std::move(options)) {}

bool Observation::observes(int layer) const {
    return std::find(options_.layers.begin(), options_.layers.end(), layer) != options_.layers.end();
}

int Observation::first_batch(int /*batch*/) const { return std::max(0, options_.batch_element); }

int Observation::batch_count(int batch) const { return options_.batch_element < 0 ? batch : 1; }

FeatureHistory& Observation::self_history(int layer, int rows, int features, int64_t step, bool rewritten) {
    if (int(histories_.size()) <= layer) histories_.resize(size_t(layer) + 1);
    FeatureHistory& history = histories_[size_t(layer)];
    const std::size_t step_bytes = std::size_t(rows) * features * sizeof(float);
    int window = static_cast<int>(std::min<std::size_t>(options_.history_bytes / step_bytes, 1 << 30));
    // Maps over the newest attention_keys keys read no older ones: holding more would only cost memory.
    if (options_.attention_keys > 0) window = std::min(window, options_.attention_keys);
    if (history.rows() != rows || history.features() != features || history.window() != std::max(1, window) ||
        step < history.first_step() || step > history.end_step() || (rewritten && step < history.end_step()))
        history.restart(rows, features, window, step);
    else if (step < history.end_step()) history.truncate(step);
    return history;
}

std::size_t Observation::bytes() const {
    std::size_t total = 0;
    for (const FeatureHistory& history : histories_) total += history.bytes();
    return total;
}

}  // namespace stepscope
