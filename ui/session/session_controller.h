// The UI thread's side of the runs: posts commands to the SessionWorker's thread and keeps every run's records.
//
// The controller's state follows the worker's signals, never its own requests: a rebuild that fails
// leaves every run, its records and the plots exactly as they were. No command drops a run: a new
// model, sequence, snapshot or session adds runs to the tree, stepping on from an earlier step or
// intervening adds a branch, and only deleteRun() removes one.
#pragma once

#include <QObject>
#include <QString>
#include <QThread>
#include <QTimer>

#include <cstdint>
#include <map>

#include "session/run_tree.h"
#include "session/session_spec.h"
#include "session/session_worker.h"
#include "session/trace_store.h"

namespace stepscope::ui {

class SessionController : public QObject {
    Q_OBJECT

public:
    explicit SessionController(QObject* parent = nullptr);
    ~SessionController() override;

    // The viewed run's records (an empty store before the first run): the run the plots show and
    // the steps go to.
    const TraceStore& traces() const;
    const RunTree& runs() const { return tree_; }
    // The viewed run (-1 before the first).
    int viewedRun() const { return viewed_; }
    // The viewed run's session: config, sources, seeds, interventions and steps taken (what it reproduces).
    SessionSpec spec() const;
    bool hasRun() const { return viewed_ >= 0; }
    bool busy() const { return pending_ > 0; }
    // A view's recomputation (recomputeViews) is in flight or waits for the steps in flight.
    bool recomputing() const { return views_in_flight_ || (!views_wanted_.empty() && views_wanted_ != views_done_); }
    bool playing() const { return playing_; }
    // The step the views show: the last one, or an earlier one while scrubbing.
    int64_t viewStep() const { return view_step_; }
    int64_t lastStep() const { return traces().last_step(); }
    // Steps of some run that are in no session file: work quitting would lose.
    bool hasUnsavedWork() const { return !tree_.all_saved(); }
    // Every run is in a session file.
    void markSaved() { tree_.mark_saved(); }
    // The viewed run's steps are in a file (its traces).
    void markViewedSaved() {
        if (Run* run = tree_.find(viewed_)) run->saved_step = run->last_step();
    }
    // The whole tree as a session file lists it.
    SessionTree sessionTree() const;

    // The state and last output of the viewed run at `step`, fetched from the worker (blocks until it
    // is free). Throws the worker's stepscope::Error when the run cannot give it.
    Checkpoint stateAt(int64_t step) const;

public slots:
    // A new root run of `spec` (cancelling steps in flight first); `failed` reports a refusal.
    void open(const stepscope::ui::SessionSpec& spec);
    // Every run of a session file, added to the tree beside the runs there are.
    void openTree(const stepscope::ui::SessionTree& tree);
    // `count` steps of the viewed run; scrubbed back, a new branch at the viewed step takes them.
    void step(qint64 count);
    void cancel();
    // Steps on at `steps_per_second` (0: as fast as the engine goes) until pause() or an error.
    void play(double steps_per_second);
    void pause();
    // A new run of the same model on a new sequence (the next sequence seed); the old run stays.
    void reset();
    void setViewStep(qint64 step);
    // Shows another batch element in every run: the records hold every element, so nothing steps again.
    void setObserved(int element);
    void saveSnapshot(const QString& path);
    void openSnapshot(const QString& path);
    // Looks inside the layers `what` names from the next step on (what the attention and capacity views show).
    void setObservation(const stepscope::ObservationOptions& what);
    // A branch of the viewed run at the viewed step, or at its start for `whole_run`, with
    // `intervention`, stepped on to where the run was and compared with its original.
    void intervene(const stepscope::ui::Intervention& intervention, bool whole_run);
    // A new run of the viewed run's session without interventions, to the same step.
    void clearInterventions();
    // Views run `id`: the plots show it and the steps go to it. False for no such run.
    bool selectRun(int id);
    // Shows run `id` beside the viewed one on the time plots, or hides it.
    void setRunVisible(int id, bool visible);
    // False (the name kept) for a name another run has.
    bool renameRun(int id, const QString& name);
    // Deletes run `id` and its branches (the window asks first). The viewed run moves to its parent,
    // or the newest run left.
    void deleteRun(int id);
    // Computes what a view of the viewed run shows but its records lack (view_recompute.h) in the worker once
    // no steps are in flight, and adds it to the records of the runs that hold those steps; a new wish replaces
    // the one in flight, an empty one drops it. A wish once done (or cancelled by the user) is not computed
    // again until the viewed run changes or computeViewsAgain(). Only the run the worker holds live can be
    // recomputed: another is refused in one line (viewsFailed).
    void recomputeViews(const stepscope::ui::ViewRequest& request);
    // The user's Cancel of the recomputation in flight.
    void cancelViews();
    // The user's Compute: the wish cancelled or failed before is computed again.
    void computeViewsAgain();

signals:
    // The viewed run changed (another run selected, or a new one started and viewed).
    void runOpened();
    // Runs were added, removed, renamed, shown or hidden, or stepped.
    void runsChanged();
    // Records of the viewed run from index `first` on are new.
    void recordsAppended(int first);
    void viewStepChanged(qint64 step);
    // The records now show batch element `element`.
    void observedChanged(int element);
    void busyChanged(bool busy);
    void playingChanged(bool playing);
    void progress(qint64 done, qint64 total);
    void stepsFinished(qint64 done, bool cancelled, const QString& error);
    // `context`: model, weights, input, snapshot, step, intervention or memory.
    void failed(const QString& context, const QString& message);
    void snapshotSaved(const QString& path);
    // Run `run` started as a branch of `parent` at `step` (stepping on from an earlier step, or an intervention).
    void branched(int run, int parent, qint64 step);
    // A view's recomputation began, advanced (steps of total), ended with its records in traces(), or failed
    // (`cancelled` by the user, or why not).
    void viewsStarted(const stepscope::ui::ViewRequest& request);
    void viewsProgress(qint64 done, qint64 total);
    void viewsRecomputed(const stepscope::ui::ViewRequest& request);
    void viewsFailed(const stepscope::ui::ViewRequest& request, const QString& message, bool cancelled);

private:
    template <typename Command>
    void post(Command command);
    void onRunStarted(int run, int parent, qint64 branch_step, const RunInfo& info, const SessionSpec& spec);
    void onStepped(const StepBatch& batch);
    void onCommandDone();
    // Stops stepping with a message: the traces reached their limit.
    void refuseFullTraces();
    void onRunTick();
    // What the traces of a new run may hold: the trace budget less what the other runs hold.
    std::size_t traceRoom(const ModelConfig& config, int batch) const;
    // False (with a one-line `failed`) when the runs already fill the traces' budget for a run of `spec`.
    bool roomForNewRun(const SessionSpec& spec);
    // The order that continues run `id` where it is.
    StepOrder continueOrder(int id, int64_t count) const;
    // The order that starts a branch of the viewed run at `step` (in the run that holds that step).
    StepOrder branchOrder(int64_t step, int64_t count) const;
    int newRunId() { return next_id_++; }
    void view(int id);
    // Posts the wished recomputation when nothing else is in flight; stops one in flight that steps need.
    void pumpViews();
    void yieldViews();
    // Adds recomputed records to the run of the viewed run's line that holds each step.
    void addObserved(int run, const std::vector<BatchRecord>& records);
    // A branch stepped past its parent's last step: a parent without interventions is the original the branch
    // is compared with, and goes on with the original's records of those steps (drawn beside the branch).
    void extendParent(const Run& branch, const std::vector<BatchRecord>& records);

    QThread thread_;
    SessionWorker* worker_;
    RunTree tree_;
    int viewed_ = -1;
    // While a session file's runs start: the run it viewed, and whether it has started (later runs
    // then leave the view to it).
    int tree_view_ = -1;
    bool tree_view_taken_ = false;
    std::map<int, RunEntry> pending_entries_;  // a session file's names, colours and visibility by run
    int next_id_ = 1;
    int64_t view_step_ = 0;
    int pending_ = 0;
    bool playing_ = false;
    double rate_ = 0;
    QTimer run_timer_;
    ViewRequest views_wanted_;  // the shown views' wish; empty when they lack nothing
    ViewRequest views_done_;    // the last one computed, cancelled by the user or refused
    int views_run_ = -1;        // the run the wish in flight is computed for
    bool views_in_flight_ = false;
    bool views_user_cancel_ = false;
};

}  // namespace stepscope::ui

Q_DECLARE_METATYPE(stepscope::ui::SessionTree)
