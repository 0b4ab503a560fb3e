// The UI thread's side of a run: posts commands to the SessionWorker's thread and keeps the run's records.
//
// The controller's state follows the worker's signals, never its own requests: a rebuild that fails
// leaves the previous run, its records and the plots exactly as they were.
#pragma once

#include <QObject>
#include <QString>
#include <QThread>
#include <QTimer>

#include <cstdint>

#include "session/session_spec.h"
#include "session/session_worker.h"
#include "session/trace_store.h"

namespace stepscope::ui {

class SessionController : public QObject {
    Q_OBJECT

public:
    explicit SessionController(QObject* parent = nullptr);
    ~SessionController() override;

    const TraceStore& traces() const { return traces_; }
    // The current run's session: config, sources, seeds and steps taken (what Save session writes).
    SessionSpec spec() const;
    bool hasRun() const { return traces_.has_run(); }
    bool busy() const { return pending_ > 0; }
    // A view's recomputation (recomputeViews) is in flight or waits for the steps in flight.
    bool recomputing() const { return views_in_flight_ || (!views_wanted_.empty() && views_wanted_ != views_done_); }
    bool playing() const { return playing_; }
    // The step the views show: the last one, or an earlier one while scrubbing.
    int64_t viewStep() const { return view_step_; }
    int64_t lastStep() const { return traces_.last_step(); }
    // Steps taken since the run was last saved as a session or exported as traces: work a new run would lose.
    bool hasUnsavedWork() const { return hasRun() && !traces_.empty() && !saved_; }
    // The run as it stands is in a file (a session or the traces).
    void markSaved() { saved_ = true; }

    // The state and last output at `step`, fetched from the worker (blocks until it is free). Throws the
    // worker's stepscope::Error when the run cannot give it (no run, or a step outside it).
    Checkpoint stateAt(int64_t step) const;

public slots:
    // A new model and run (cancelling steps in flight first); `failed` reports a refusal.
    void open(const stepscope::ui::SessionSpec& spec);
    // `count` steps from the viewed step: a run scrubbed back branches there.
    void step(qint64 count);
    void cancel();
    // Steps on at `steps_per_second` (0: as fast as the engine goes) until pause() or an error.
    void play(double steps_per_second);
    void pause();
    // A new sequence of the same model: empty state and a new random feature map draw.
    void reset();
    void setViewStep(qint64 step);
    // Shows another batch element: the records hold every element, so nothing steps again.
    void setObserved(int element);
    void saveSnapshot(const QString& path);
    void openSnapshot(const QString& path);
    // Looks inside the layers `what` names from the next step on (what the attention and capacity views show).
    void setObservation(const stepscope::ObservationOptions& what);
    // Branches the run at the viewed step, or at its start for `whole_run`, with `intervention`, then
    // steps on to where the run was. The branch is stepped beside its original and compared with it.
    void intervene(const stepscope::ui::Intervention& intervention, bool whole_run);
    // The same run without interventions, to the same step.
    void clearInterventions();
    // Computes what a view shows but the records lack (view_recompute.h) in the worker once no steps are in
    // flight, and adds it to traces(); a new wish replaces the one in flight, an empty one drops it. A wish
    // once done (or cancelled by the user) is not computed again until the run changes or computeViewsAgain().
    void recomputeViews(const stepscope::ui::ViewRequest& request);
    // The user's Cancel of the recomputation in flight.
    void cancelViews();
    // The user's Compute: the wish cancelled or failed before is computed again.
    void computeViewsAgain();

signals:
    void runOpened();
    // Records from index `first` on are new.
    void recordsAppended(int first);
    // A branch stepped on: its original's records of the same steps (what the original's dashed curves draw).
    void originalStepped(const std::vector<stepscope::ui::BatchRecord>& records);
    // The run is about to drop its steps after `step` to branch there: traces() still holds them all.
    void branching(qint64 step);
    // Records after `step` were dropped.
    void truncated(qint64 step);
    void viewStepChanged(qint64 step);
    // The records now show batch element `element`.
    void observedChanged(int element);
    void busyChanged(bool busy);
    void playingChanged(bool playing);
    void progress(qint64 done, qint64 total);
    void stepsFinished(qint64 done, bool cancelled, const QString& error);
    // `context`: model, weights, input, snapshot or step.
    void failed(const QString& context, const QString& message);
    void snapshotSaved(const QString& path);
    // The run became a branch (spec().interventions lists what it changes).
    void branched();
    // A view's recomputation began, advanced (steps of total), ended with its records in traces(), or failed
    // (`cancelled` by the user, or why not).
    void viewsStarted(const stepscope::ui::ViewRequest& request);
    void viewsProgress(qint64 done, qint64 total);
    void viewsRecomputed(const stepscope::ui::ViewRequest& request);
    void viewsFailed(const stepscope::ui::ViewRequest& request, const QString& message, bool cancelled);

private:
    template <typename Command>
    void post(Command command);
    void onOpened(const RunInfo& info, const SessionSpec& spec);
    void onStepped(const StepBatch& batch);
    void onRewound(qint64 step);
    void onCommandDone();
    // Stops stepping with a message: the traces reached kMaxTraceBytes.
    void refuseFullTraces();
    void onRunTick();
    // Posts the wished recomputation when nothing else is in flight; stops one in flight that steps need.
    void pumpViews();
    void yieldViews();

    QThread thread_;
    SessionWorker* worker_;
    TraceStore traces_;
    SessionSpec spec_;
    int64_t view_step_ = 0;
    int pending_ = 0;
    bool playing_ = false;
    bool saved_ = false;
    double rate_ = 0;
    QTimer run_timer_;
    ViewRequest views_wanted_;     // the shown views' wish; empty when they lack nothing
    ViewRequest views_done_;       // the last one computed, cancelled by the user or refused
    bool views_in_flight_ = false;
    bool views_user_cancel_ = false;
};

}  // namespace stepscope::ui
