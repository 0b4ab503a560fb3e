// What a step looks inside of, and the key features that looking at linear attention needs to keep.
//
// The implicit attention of linear attention at step t needs phi(k_j) of every
// earlier step j, which the state (S, Z) has summed away. An Observation keeps
// them for the layers it observes, from the step observation began, in a ring
// bounded by `history_bytes` per layer: once full, the oldest steps drop out
// and the maps start at a later key (AttentionMap::first_key). For the seed
// example (batch 10, 12 heads, 32 features) a step adds 15 KiB per layer, so
// the default 64 MiB holds the last 4,369 steps; observing one batch element
// holds ten times as many. While a view asks for the newest `attention_keys`
// keys only, the ring holds those and no more.
//
// An Observation follows one run: stepping a state whose step count is not the
// history's end restarts the history there (a new sequence), or, when it lies
// within the history, forgets the steps after it (the same run scrubbed back).
// Observe a second run (a pinned twin) with a second Observation. A state
// edit (intervention.h) changes what the held keys mean to S and Z: observe
// the edited run with a new Observation, whose maps start at the edit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "stepscope/observer.h"
#include "stepscope/types.h"

namespace stepscope {

// phi(k) (R, F) of consecutive steps, the last `window` of them, per row r = n*H + h.
class FeatureHistory {
public:
    // Empties the history and sizes it for rows of `features`, starting at step `first_step`.
    void restart(int rows, int features, int window, int64_t first_step);
    // phi_k (R, F) becomes step end_step().
    void append(const ConstMatrixRef& phi_k);
    // Forgets the steps from `step` on; first_step() <= step <= end_step().
    void truncate(int64_t step);

    int rows() const { return rows_; }
    int features() const { return features_; }
    int window() const { return window_; }
    int length() const { return length_; }  // steps held: min(appended, window)
    int64_t first_step() const { return end_step_ - length_; }
    int64_t end_step() const { return end_step_; }
    std::size_t bytes() const { return static_cast<std::size_t>(keys_.size()) * sizeof(float); }

    // phi(k) of row r at held step c (0 = the oldest held), F floats.
    const float* features_of(int row, int c) const;
    // The same, to rewrite: kinds whose held keys change with every step (the delta rules) update them.
    float* features_of(int row, int c);

private:
    RowMatrix keys_;  // (R, window*F): a ring of steps per row
    int rows_ = 0, features_ = 0, window_ = 0, length_ = 0;
    int start_ = 0;  // ring slot of the oldest held step
    int64_t end_step_ = 0;
};

struct ObservationOptions {
    std::vector<int> layers;  // observed layers; empty observes none
    bool attention = false;   // attention maps (AttentionMap)
    bool spectrum = false;    // singular values and effective rank of S (StateCapacity)
    // The rest of StateCapacity for the observed layers: phi(q) . Z, a cache's length and row entropy. A
    // view that shows none of it leaves it off, and a long run keeps nothing of it.
    bool capacity = true;
    int batch_element = -1;                             // the batch element looked at; -1 for all of them
    std::size_t history_bytes = std::size_t(64) << 20;  // per observed layer
    // Self attention maps of linear attention over the newest this many keys only (a window a view
    // shows), so a step's map and the held history cost the window; 0 for every held key.
    int attention_keys = 0;
    // Token models with a recall task: the stored pairs read back through the state after each step
    // (token_tasks.h read_back), one extra step of the batch per pair; layers need not be observed.
    bool read_back = false;
};

class Observation {
public:
    explicit Observation(ObservationOptions options = {});

    const ObservationOptions& options() const { return options_; }
    bool observes(int layer) const;
    // The batch elements looked at in a batch of `batch`: [first, first + count).
    int first_batch(int batch) const;
    int batch_count(int batch) const;

    // The self-attention key features of `layer`, made to end at `step` (see
    // above) for rows of `features`. A `rewritten` history (keys that every
    // later step changes, as the delta rules' are) cannot be cut back to an
    // earlier step and restarts there instead. While a view asks for the
    // newest attention_keys only, it holds no more than those.
    FeatureHistory& self_history(int layer, int rows, int features, int64_t step, bool rewritten = false);
    // Bytes the histories hold.
    std::size_t bytes() const;

private:
    ObservationOptions options_;
    std::vector<FeatureHistory> histories_;  // per layer, grown on first use
};

}  // namespace stepscope
