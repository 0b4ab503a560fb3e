// A run's history as a recomputation reads it: its checkpoints up to a step, and the steps between them.
//
// What a view shows (an implicit attention map, a spectrum, a read-back) is computed by stepping with
// observation on. A step that was not observed while the run went by is observed again by re-stepping
// from the nearest checkpoint before it along the same history: the run's inputs, its interventions'
// edits and ablations. A branch that shares its parent's history up to its branch step answers with the
// parent's checkpoints before that step and its own after it.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "session/checkpoint_store.h"
#include "stepscope/model.h"
#include "stepscope/observation.h"
#include "stepscope/observer.h"
#include "stepscope/token_tasks.h"

namespace stepscope::ui {

class RunHistory {
public:
    virtual ~RunHistory() = default;

    virtual const Model& history_model() const = 0;
    virtual int history_batch() const = 0;
    // The steps the history holds: first_step() < step <= last_step() can be stepped to.
    virtual int64_t history_first_step() const = 0;
    virtual int64_t history_last_step() const = 0;
    // The state after `step` or, cheaper, the latest checkpoint before it: its state.step <= step.
    virtual Checkpoint checkpoint_before(int64_t step) const = 0;
    // Steps `c` one step on along the history, reporting to `observer` and looking inside as `observation`
    // asks (either may be null). On the CPU engine, whatever device the run steps on.
    virtual void step_on(Checkpoint& c, StepObserver* observer, Observation* observation) const = 0;
    // Steps `c` on to `step` unobserved, in the engine's blocks (Model::step_block) where the inputs are known
    // and nothing edits the state or input in between, else one step at a time. `stepped(done)` is called
    // after each block or step; it returns false to stop there.
    virtual void step_on_to(Checkpoint& c, int64_t step, const std::function<bool(int64_t)>& stepped) const = 0;
    // Recall token runs: batch element `element`'s pairs stored so far, read back through `c`'s state;
    // empty for other runs or before a pair is stored.
    virtual std::vector<Retrieval> read_back_at(const Checkpoint& c, int element) const = 0;
};

}  // namespace stepscope::ui
