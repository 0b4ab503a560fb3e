// State checkpoints at doubling intervals within a count and byte budget, so scrubbing back replays little.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "stepscope/state.h"
#include "stepscope/token_model.h"
#include "stepscope/types.h"

namespace stepscope::ui {

// A state plus the output of its last step: the next input when outputs are fed back.
struct Checkpoint {
    State state;
    RowMatrix last_output;
    std::vector<TokenStep> last_tokens;  // the tokens fed at the step before, for a token shift
};

// A run's checkpoints may hold 512 MiB, or a quarter of the memory limit where that is less.
std::size_t checkpoint_budget();

class CheckpointStore {
public:
    explicit CheckpointStore(int max_count = 48, std::size_t max_bytes = std::size_t(512) << 20);

    // Starts over from `base`, which is kept whatever the budget.
    void reset(Checkpoint base);
    // Whether a state at `step` falls on the current interval, so that offering it is worth a copy.
    bool wants(int64_t step) const;
    // Keeps the checkpoint when wants() its step.
    void offer(Checkpoint checkpoint);
    // The latest checkpoint at or before `step` (the base at least).
    const Checkpoint& nearest(int64_t step) const;
    // Forgets checkpoints after `step`, when the run branches there.
    void drop_after(int64_t step);

    int64_t base_step() const { return checkpoints_.front().state.step; }
    int64_t interval() const { return interval_; }
    int count() const { return static_cast<int>(checkpoints_.size()); }
    std::size_t bytes() const;

private:
    // Doubles the interval, dropping the checkpoints off it, until the budget holds or only the base
    // and the newest remain.
    void thin();

    std::vector<Checkpoint> checkpoints_;  // by step; [0] is the base
    int max_count_;
    std::size_t max_bytes_;
    int64_t interval_ = 64;
};

}  // namespace stepscope::ui
