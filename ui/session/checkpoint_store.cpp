// Bounded checkpoints: a geometric thinning keeps the count and bytes under budget on any run length.
#include "session/checkpoint_store.h"

#include "stepscope/error.h"
#include "stepscope/memory_budget.h"

#include <algorithm>

namespace stepscope::ui {

namespace {
// A checkpoint copies the whole state on the engine's thread while its workers wait (4 MB in the
// seed example, 3% of the window's stepping at every 16 steps); every 64 it is about 1%, and a
// rewind replays at most 63 steps (about 80 ms there).
constexpr int64_t kFirstInterval = 64;

std::size_t checkpoint_bytes(const Checkpoint& c) {
    return c.state.bytes() + std::size_t(c.last_output.size()) * sizeof(float);
}
}  // namespace

std::size_t checkpoint_budget() {
    constexpr std::size_t kMaxCheckpointBytes = std::size_t(512) << 20;
    try {
        return std::min<std::size_t>(kMaxCheckpointBytes, memory_limit() / 4);
    } catch (const Error&) {
        return kMaxCheckpointBytes;  // a malformed limit is reported where the run is refused
    }
}

CheckpointStore::CheckpointStore(int max_count, std::size_t max_bytes)
    : max_count_(std::max(2, max_count)), max_bytes_(max_bytes) {
    checkpoints_.push_back({});
}

void CheckpointStore::reset(Checkpoint base) {
    checkpoints_.clear();
    checkpoints_.push_back(std::move(base));
    interval_ = kFirstInterval;
}

bool CheckpointStore::wants(int64_t step) const {
    const int64_t offset = step - base_step();
    return offset > 0 && offset % interval_ == 0 && step > checkpoints_.back().state.step;
}

void CheckpointStore::offer(Checkpoint checkpoint) {
    if (!wants(checkpoint.state.step)) return;
    checkpoints_.push_back(std::move(checkpoint));
    thin();
}

const Checkpoint& CheckpointStore::nearest(int64_t step) const {
    auto after = std::upper_bound(checkpoints_.begin() + 1, checkpoints_.end(), step,
                                  [](int64_t s, const Checkpoint& c) { return s < c.state.step; });
    return *(after - 1);
}

void CheckpointStore::drop_after(int64_t step) {
    auto after = std::upper_bound(checkpoints_.begin() + 1, checkpoints_.end(), step,
                                  [](int64_t s, const Checkpoint& c) { return s < c.state.step; });
    checkpoints_.erase(after, checkpoints_.end());
}

std::size_t CheckpointStore::bytes() const {
    std::size_t total = 0;
    for (const auto& c : checkpoints_) total += checkpoint_bytes(c);
    return total;
}

void CheckpointStore::thin() {
    // The newest checkpoint stays even over budget: a full-attention state can outgrow the budget
    // alone, and without it every rewind would replay from the base.
    while (checkpoints_.size() > 2 && (count() > max_count_ || bytes() > max_bytes_)) {
        interval_ *= 2;
        const int64_t base = base_step(), newest = checkpoints_.back().state.step;
        auto off_interval = [&](const Checkpoint& c) {
            return c.state.step != base && c.state.step != newest && (c.state.step - base) % interval_ != 0;
        };
        checkpoints_.erase(std::remove_if(checkpoints_.begin(), checkpoints_.end(), off_interval), checkpoints_.end());
    }
}

}  // namespace stepscope::ui
