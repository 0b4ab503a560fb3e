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

#include "session/session.h"
#include "session/session_spec.h"
#include "session/step_record.h"
#include "session/view_recompute.h"

namespace stepscope::ui {

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
    // A new model and run; on failure the previous run stays and `failed` says why. Then takes spec.steps.
    void open(const SessionSpec& spec, uint64_t epoch);
    // Continues from a snapshot: the session stored in it, else the current model.
    void openSnapshot(const QString& path);
    // `count` steps from step `from` (rewinding there first when the run is further on).
    void stepMany(int64_t count, int64_t from, uint64_t epoch);
    // The element the plots show, for the sessions and snapshots the run writes: records hold every element.
    void setObserved(int element);
    void reset(uint64_t sequence_seed);
    void saveSnapshot(const QString& path, int64_t step, uint64_t epoch);
    // Looks inside the layers `what` names from the next step on, in this run and the runs opened later.
    void setObservation(const stepscope::ObservationOptions& what);
    // Branches the run at step `from` (rewinding there), adds `intervention`, then steps on to `target`.
    void intervene(const Intervention& intervention, int64_t from, int64_t target, uint64_t epoch);
    // Computes what `request` asks of a view from the run's history (view_recompute.h), with progress.
    void recomputeViews(const ViewRequest& request, uint64_t epoch, uint64_t view_epoch);
    // The state at `step` (for tests and checks). Throws stepscope::Error when the run cannot give it.
    Checkpoint stateAt(int64_t step) const;

signals:
    void opened(const stepscope::ui::RunInfo& info, const stepscope::ui::SessionSpec& spec);
    void stepped(const stepscope::ui::StepBatch& batch);
    // The run went back to `step`: the records after it are gone.
    void rewound(qint64 step);
    void progress(qint64 done, qint64 total);
    // A step command ended: all done, cancelled, or stopped by `error` (the run stays at its last good step).
    void stepsFinished(qint64 done, bool cancelled, const QString& error);
    void failed(const QString& context, const QString& message);
    void snapshotSaved(const QString& path);
    // The run became a branch: `spec` lists its interventions.
    void branched(const stepscope::ui::SessionSpec& spec);
    // A view recomputation: steps done of total, then its records, or why there are none.
    void viewsProgress(qint64 done, qint64 total);
    void viewsRecomputed(const stepscope::ui::ViewRequest& request, const stepscope::ui::StepBatch& records);
    void viewsFailed(const stepscope::ui::ViewRequest& request, const QString& message, bool cancelled);
    // Every command ends with this, whatever happened, so the controller can count what is in flight.
    void commandDone();

private:
    void runSteps(int64_t count, uint64_t epoch);
    // Waits until the receiver has room for another batch; false when `epoch` was cancelled meanwhile.
    bool waitForRoom(uint64_t epoch);
    // Hands `records` to the receiver and leaves an empty vector in their place.
    void send(std::shared_ptr<std::vector<BatchRecord>>& records);
    // True once a command posted under `epoch` should stop.
    bool cancelled(uint64_t epoch) const { return epoch_.load() != epoch; }

    std::unique_ptr<Session> session_;
    ObservationOptions observation_;
    std::atomic<uint64_t> epoch_{0};
    std::atomic<uint64_t> view_epoch_{0};
    std::atomic<int> unacknowledged_{0};
};

}  // namespace stepscope::ui

Q_DECLARE_METATYPE(stepscope::ui::SessionSpec)
