// The engine's thread: owns the Session (model and state), takes queued commands, returns value snapshots.
//
// Commands are posted with QMetaObject::invokeMethod(worker, lambda, Qt::QueuedConnection) by the
// SessionController and run one at a time in the worker's thread. cancel() is the one call made from
// another thread: it stops the step command in flight at its next step, so a command queued
// behind it (a rebuild, a reset) runs promptly and never meets a step half done.
#pragma once

#include <QObject>
#include <QString>

#include <atomic>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "session/session.h"
#include "session/session_spec.h"
#include "session/step_record.h"
#include "session/view_recompute.h"

namespace stepscope::ui {

// What a step command asks: step run `run` on, or start it as a branch of `parent` at `from`.
struct StepOrder {
    int run = -1;
    int parent = -1;   // >= 0: `run` is a new branch of this run at `from`
    int64_t from = 0;  // where the steps start: the run's last step, or the branch step
    // The run's session (a branch: its parent's, less the interventions from `from` on).
    SessionSpec spec;
    // Runs that show the same records up to `from`: the live run can be rewound there when it is one.
    std::vector<int> sharing;
    int64_t count = 0;
    std::optional<Intervention> intervention;  // added at `from` (a branch)
};

// A run of a session file, with the ids the window gives it.
struct TreeOrder {
    int run = -1;
    int parent = -1;
    int64_t branch_step = 0;
    SessionSpec spec;
};

class SessionWorker : public QObject {
    Q_OBJECT

public:
    SessionWorker();
    ~SessionWorker() override;

    // Any thread. Commands posted before this call stop at their next step; later ones carry the new epoch.
    void cancel() { ++epoch_; }
    uint64_t epoch() const { return epoch_.load(); }
    // Any thread: the receiver of `stepped` has taken a batch. The worker keeps at most a few batches
    // unacknowledged, so a fast engine waits for the window instead of queueing records without bound.
    void acknowledge() { --unacknowledged_; }
    // Any thread: a view recomputation in flight stops at its next step (cancel() stops it too).
    void cancelViews() { ++view_epoch_; }
    uint64_t viewEpoch() const { return view_epoch_.load(); }

    // Worker thread only, through queued invocations.
    // A new run `run` (a root); on failure `failed` says why and no run starts. Then takes spec.steps.
    void open(const SessionSpec& spec, int run, uint64_t epoch);
    // A new run `run` from a snapshot: the session stored in it, else the model of run `model_of`.
    void openSnapshot(const QString& path, int run, const SessionSpec& model_of);
    // Every run of a session file, parents first, each stepped to its steps.
    void openTree(const std::vector<TreeOrder>& runs, uint64_t epoch);
    // Steps a run on, or starts a branch and steps it (see StepOrder).
    void stepRun(const StepOrder& order, uint64_t epoch);
    // The element the plots show, for the sessions and snapshots the run writes: records hold every element.
    void setObserved(int element);
    // Writes the state of `order.run` at `step` (order: that run continued where it is).
    void saveSnapshot(const QString& path, const StepOrder& order, int64_t step, uint64_t epoch);
    // Looks inside the layers `what` names from the next step on, in this run and the runs opened later.
    void setObservation(const stepscope::ObservationOptions& what);
    // Computes what `request` asks of run `order.run`'s views from its session's history (view_recompute.h),
    // with progress. When another run is live, `order` (that run continued where it is, no steps) first makes
    // the session that run's, stepped unrecorded to its last step as stepping it would.
    void recomputeViews(const ViewRequest& request, const StepOrder& order, uint64_t epoch, uint64_t view_epoch);
    // The state of the live run at `step` (for tests and checks). Throws stepscope::Error when it cannot.
    Checkpoint stateAt(int64_t step) const;
    // The run the worker holds a session of (-1: none).
    int liveRun() const { return live_; }

signals:
    // Run `run` started: a root (parent -1) or a branch of `parent` at `branch_step`.
    void runStarted(int run, int parent, qint64 branch_step, const stepscope::ui::RunInfo& info,
                    const stepscope::ui::SessionSpec& spec);
    void stepped(const stepscope::ui::StepBatch& batch);
    void progress(qint64 done, qint64 total);
    // A step command ended: all done, cancelled, or stopped by `error` (the run stays at its last good step).
    void stepsFinished(qint64 done, bool cancelled, const QString& error);
    void failed(const QString& context, const QString& message);
    void snapshotSaved(const QString& path);
    // A view recomputation: steps done of total, then its records, or why there are none.
    void viewsProgress(qint64 done, qint64 total);
    void viewsRecomputed(const stepscope::ui::ViewRequest& request, const stepscope::ui::StepBatch& records);
    void viewsFailed(const stepscope::ui::ViewRequest& request, const QString& message, bool cancelled);
    // Every command ends with this, whatever happened, so the controller can count what is in flight.
    void commandDone();

private:
    void runSteps(int64_t count, uint64_t epoch);
    // Puts the session where `order` starts: run `order.run` at `order.from`, until `cancelled` (RunCancelled).
    // Throws on failure (the live session is then no run's: live_ is -1).
    void ensure(const StepOrder& order, const std::function<bool()>& cancelled);
    // A session of `spec`, sharing the live session's model when it is the same one.
    std::unique_ptr<Session> make_session(const SessionSpec& spec) const;
    // Waits until the receiver has room for another batch; false when `epoch` was cancelled meanwhile.
    bool waitForRoom(uint64_t epoch);
    // Hands `records` to the receiver and leaves an empty vector in their place.
    void send(std::shared_ptr<std::vector<BatchRecord>>& records);
    // True once a command posted under `epoch` should stop.
    bool cancelled(uint64_t epoch) const { return epoch_.load() != epoch; }

    std::unique_ptr<Session> session_;
    int live_ = -1;
    ObservationOptions observation_;
    std::atomic<uint64_t> epoch_{0};
    std::atomic<uint64_t> view_epoch_{0};
    std::atomic<int> unacknowledged_{0};
};

}  // namespace stepscope::ui

Q_DECLARE_METATYPE(stepscope::ui::SessionSpec)
Q_DECLARE_METATYPE(stepscope::ui::StepOrder)
