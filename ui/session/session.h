// One run of a model over an input source: stepping, checkpoints, rewinding, snapshots. No threads, no widgets.
//
//   auto session = Session::open(spec);  // throws stepscope::Error, naming what is wrong
//   BatchRecord r = session->advance();  // one step, every batch element observed
//   session->rewind(3);                  // back to step 3: the run branches from there
//
// The SessionWorker drives one in its thread; the headless export drives one directly.
#pragma once

#include <QString>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "session/checkpoint_store.h"
#include "session/input_source.h"
#include "session/run_history.h"
#include "session/session_spec.h"
#include "session/step_record.h"
#include "stepscope/error.h"
#include "stepscope/intervention.h"
#include "stepscope/model.h"
#include "stepscope/observation.h"
#include "stepscope/stepper.h"

namespace stepscope::ui {

// The model a spec names: its weights file, or random weights from its seed after the engine's
// validation and its memory estimate (memory_budget.h). Throws stepscope::Error.
std::shared_ptr<const Model> build_model(const SessionSpec& spec);

// Session::open's failure: the engine's message, and the part of the spec it is about ("model",
// "weights", "device", "input" or "snapshot") so the window can point at it.
class OpenError : public Error {
public:
    OpenError(QString part, const std::string& message, const std::string& parameter = {})
        : Error(message, parameter), part_(std::move(part)) {}
    const QString& part() const { return part_; }

private:
    QString part_;
};

// Asked between replayed steps; true stops the replay.
using CancelCheck = std::function<bool()>;
// Thrown when a CancelCheck stopped a replay.
struct RunCancelled {};

class Session : public RunHistory {
public:
    // Builds the model the spec names (random weights from its seed, or its weights file), reads its
    // input files and, when it names a snapshot, restores it. The spec's `steps` are not taken.
    static std::unique_ptr<Session> open(const SessionSpec& spec);

    // A run of an existing model from an empty state, on `stepper` or else a new one on the spec's
    // device. Throws Error with the reason when that device is unavailable.
    Session(std::shared_ptr<const Model> model, const SessionSpec& spec, std::unique_ptr<Stepper> stepper = nullptr);

    const std::shared_ptr<const Model>& model() const { return model_; }
    // The spec with the model's config, the run's batch and its steps taken so far.
    SessionSpec spec() const;
    RunInfo info() const;
    Device device() const { return stepper_->device(); }
    // The live state, copied (from the GPU when the run steps there).
    State state() const { return stepper_->state(); }
    int64_t current_step() const { return stepper_->step_count(); }
    int64_t base_step() const { return checkpoints_.base_step(); }
    const CheckpointStore& checkpoints() const { return checkpoints_; }

    // One step, every batch element observed. Throws Error with the run unchanged when the engine or
    // the input refuses.
    BatchRecord advance();
    // Back to `step` (base_step() ..  current_step()): the nearest checkpoint, replayed. Throws RunCancelled,
    // the run unchanged, when `cancelled` turns true during the replay.
    void rewind(int64_t step, const CancelCheck& cancelled = {});
    // The state at an earlier step, leaving the run where it is.
    Checkpoint state_at(int64_t step, const CancelCheck& cancelled = {}) const;
    // Steps on to `step` unobserved and unrecorded (a run rebuilt to branch from or continue where it
    // was), keeping checkpoints on the way. Throws RunCancelled, the run where it was, when cancelled.
    void fast_forward(int64_t step, const CancelCheck& cancelled = {});
    // Replaces the interventions at `step` and later with `later` (each at its own step, `step` or
    // after): a run rewound to `step` becomes a branch there. Throws Error, unchanged, for one it cannot take.
    void replace_interventions_from(int64_t step, const std::vector<Intervention>& later);
    // The element the plots show, kept in the sessions and snapshots the run writes.
    void set_observed(int element);
    // False for a run that never goes back (the headless export): no checkpoints are kept, and a
    // rewind replays from the start.
    void set_rewindable(bool rewindable);
    // Looks inside the layers `what` names from the next step on (implicit attention maps, spectra),
    // following the observed batch element; no layers stops looking. `what.read_back` reads a recall
    // run's stored pairs back through the state after each step. The CPU only: other devices step unobserved.
    void set_observation(const ObservationOptions& what);

    // Adds `intervention` at the current step (its `step` is set to current_step()): the run becomes a branch,
    // stepped from now on beside the original (the same run without interventions) and compared with it
    // in each record's divergence. Throws Error, unchanged, for a layer, head or input it cannot apply to.
    void intervene(Intervention intervention);
    // The checks intervene() makes, for an intervention at step `at` (before rewinding there).
    void check_intervention(const Intervention& intervention, int64_t at) const;

    // Continues from a snapshot of this model. Throws Error, unchanged, when it belongs to another model.
    void restore(const QString& path);
    // The state at `step` with its config, seeds and session in the metadata, and the last output.
    void save_snapshot(const QString& path, int64_t step, const CancelCheck& cancelled = {}) const;

    // The run's history for views recomputed after the fact (run_history.h; session_history.cpp).
    const Model& history_model() const override { return *model_; }
    int history_batch() const override { return spec_.batch; }
    int64_t history_first_step() const override { return base_step(); }
    int64_t history_last_step() const override { return current_step(); }
    Checkpoint checkpoint_before(int64_t step) const override;
    void step_on(Checkpoint& c, StepObserver* observer, Observation* observation) const override;
    void step_on_to(Checkpoint& c, int64_t step, const std::function<bool(int64_t)>& stepped) const override;
    std::vector<Retrieval> read_back_at(const Checkpoint& c, int element) const override;

private:
    // Whether steps from..to - 1 can run as the engine's blocks: an encoder fed known inputs, nothing edited.
    bool replays_in_blocks(int64_t from, int64_t to) const;
    // Token input: each sequence's step as fed and the predictions from its output y (N, E), the
    // task's answers, and for recall the observed sequence's stored pairs read back through the state.
    void record_tokens(BatchRecord& record, const std::vector<TokenStep>& fed, const RowMatrix& y) const;
    // Throws Error, stepping nothing, when the next step would pass the memory limit.
    void require_step_fits() const;
    // Steps `c` forward to `step` without observing, on the CPU engine whatever the run's device.
    void replay(Checkpoint& c, int64_t step, const CancelCheck& cancelled) const;
    // advance(), keeping each layer's output row of the observed element, (E) per layer, in `layer_outputs`.
    BatchRecord advance(std::vector<std::vector<float>>* layer_outputs);
    // Throws Error naming the first of `interventions` this model and input cannot take.
    void check_interventions(const std::vector<Intervention>& interventions) const;
    // The interventions' edits of the state at `state.step`, in order; `original` is the original's state there.
    void edit_state(State& state, const std::function<State()>& original) const;
    void edit_input(int64_t step, RowMatrix& x) const;
    // The input x (N, E) of step `step` after `previous_output`, with the interventions' edits; a
    // token run's fed tokens in `fed`.
    // `previous` is what was fed at step - 1 (a token-shift model embeds it too).
    void next_input(int64_t step, const RowMatrix& previous_output, const std::vector<TokenStep>& previous,
                    RowMatrix& x, std::vector<TokenStep>& fed) const;
    // The one step an EditToken intervention feeds; throws Error for text that is not one step.
    TokenStep edited_token(const Intervention& intervention) const;
    bool edits_state_at(int64_t step) const;
    // This run as it stands, without interventions and on the CPU: the original a branch is compared with.
    std::unique_ptr<Session> without_interventions() const;

    std::shared_ptr<const Model> model_;
    SessionSpec spec_;
    InputSource input_;
    std::unique_ptr<Stepper> stepper_;  // owns the live state, on the spec's device
    RowMatrix last_output_;
    std::vector<TokenStep> last_tokens_;  // fed at the last step, for a token shift
    RowMatrix x_;
    CheckpointStore checkpoints_;
    bool rewindable_ = true;
    std::unique_ptr<Observation> observation_;  // null when nothing is looked inside
    bool read_back_ = false;                    // recall: stored pairs read back after each step
    Ablation ablation_;                         // the AblateHead interventions
    std::unique_ptr<Session> original_;         // a branch's original, stepped in lockstep; null otherwise
};

// The tensor a snapshot carries besides the state: the last output, the next input when fed back.
constexpr const char* kLastOutputTensor = "last_output";
// The tokens fed at the snapshot's last step, I64 (N, tokens per step), for a token-shift model.
constexpr const char* kLastTokensTensor = "last_tokens";
// The snapshot metadata key holding the session JSON that made the run.
constexpr const char* kSessionMetadata = "session";

}  // namespace stepscope::ui
