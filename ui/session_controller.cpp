// Queued commands to the worker thread, and the run's records kept in step with the worker's replies.
#include "session_controller.h"

#include <QMetaObject>

#include <algorithm>
#include <cmath>
#include <exception>
#include <utility>

#include "stepscope/memory_budget.h"

namespace stepscope::ui {

SessionController::SessionController(QObject* parent) : QObject(parent), worker_(new SessionWorker) {
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(worker_, &SessionWorker::opened, this, &SessionController::onOpened);
    connect(worker_, &SessionWorker::stepped, this, &SessionController::onStepped);
    connect(worker_, &SessionWorker::rewound, this, &SessionController::onRewound);
    connect(worker_, &SessionWorker::progress, this, &SessionController::progress);
    connect(worker_, &SessionWorker::stepsFinished, this, &SessionController::stepsFinished);
    connect(worker_, &SessionWorker::failed, this, &SessionController::failed);
    connect(worker_, &SessionWorker::snapshotSaved, this, &SessionController::snapshotSaved);
    connect(worker_, &SessionWorker::branched, this, [this](const SessionSpec& spec) {
        spec_.interventions = spec.interventions;
        saved_ = false;  // the saved session lacks the intervention
        emit branched();
    });
    connect(worker_, &SessionWorker::commandDone, this, &SessionController::onCommandDone);
    connect(worker_, &SessionWorker::viewsProgress, this, &SessionController::viewsProgress);
    connect(worker_, &SessionWorker::viewsRecomputed, this, [this](const ViewRequest& request, const StepBatch& batch) {
        views_in_flight_ = false;
        views_done_ = request;
        if (batch.records) traces_.add_observed(*batch.records);
        emit viewsRecomputed(request);
        pumpViews();
    });
    connect(worker_, &SessionWorker::viewsFailed, this,
            [this](const ViewRequest& request, const QString& message, bool cancelled) {
                views_in_flight_ = false;
                // Stopped for steps or for another wish: computed again when the views still lack it.
                const bool by_user = cancelled && std::exchange(views_user_cancel_, false);
                if (by_user || !cancelled) views_done_ = request;
                emit viewsFailed(request, message, by_user || !cancelled);
                pumpViews();
            });
    connect(this, &SessionController::busyChanged, this, [this](bool busy) {
        if (!busy) pumpViews();
    });
    connect(&run_timer_, &QTimer::timeout, this, &SessionController::onRunTick);
    // An unbounded run ends only by an error or a cancel; a cancelled command's late report
    // must not stop the run that replaced it.
    connect(this, &SessionController::stepsFinished, this, [this](qint64, bool cancelled, const QString& error) {
        if (!error.isEmpty() || (playing_ && rate_ == 0 && !cancelled)) pause();
    });
    thread_.setObjectName(QStringLiteral("stepscope-engine"));
    thread_.start();
}

SessionController::~SessionController() {
    worker_->cancel();
    thread_.quit();
    thread_.wait();
}

template <typename Command>
void SessionController::post(Command command) {
    if (pending_++ == 0) emit busyChanged(true);
    QMetaObject::invokeMethod(worker_, std::move(command), Qt::QueuedConnection);
}

SessionSpec SessionController::spec() const {
    SessionSpec spec = spec_;
    spec.steps = traces_.last_step() - traces_.base_step();
    return spec;
}

Checkpoint SessionController::stateAt(int64_t step) const {
    Checkpoint result;
    std::exception_ptr error;
    SessionWorker* worker = worker_;
    QMetaObject::invokeMethod(
        worker_,
        [worker, step, &result, &error] {
            try {
                result = worker->stateAt(step);
            } catch (...) {
                error = std::current_exception();
            }
        },
        Qt::BlockingQueuedConnection);
    if (error) std::rethrow_exception(error);
    return result;
}

void SessionController::open(const SessionSpec& spec) {
    pause();
    yieldViews();
    worker_->cancel();
    const uint64_t epoch = worker_->epoch();
    SessionWorker* worker = worker_;
    post([worker, spec, epoch] { worker->open(spec, epoch); });
}

void SessionController::step(qint64 count) {
    if (count <= 0) return;
    if (traces_.full()) {
        refuseFullTraces();
        return;
    }
    yieldViews();
    // Scrubbed back: the run branches at the viewed step.
    const int64_t from = view_step_ < traces_.last_step() ? view_step_ : -1;
    const uint64_t epoch = worker_->epoch();
    SessionWorker* worker = worker_;
    post([worker, count, from, epoch] { worker->stepMany(count, from, epoch); });
}

void SessionController::cancel() { worker_->cancel(); }

namespace {
// A run with no end: stepping at the engine's pace until paused.
constexpr qint64 kUnbounded = qint64(1) << 50;
// The timer never ticks faster than the screen refreshes; faster rates take several steps a tick.
constexpr int kMinTickMs = 16;
}  // namespace

void SessionController::play(double steps_per_second) {
    if (!hasRun()) return;
    pause();
    playing_ = true;
    rate_ = std::max(0.0, steps_per_second);
    emit playingChanged(true);
    if (rate_ == 0) {
        worker_->cancel();  // a Step N in flight gives way to the run
        step(kUnbounded);
        return;
    }
    run_timer_.start(std::max(kMinTickMs, static_cast<int>(1000.0 / rate_)));
}

void SessionController::pause() {
    if (!playing_) return;
    playing_ = false;
    run_timer_.stop();
    if (rate_ == 0) worker_->cancel();
    emit playingChanged(false);
    pumpViews();
}

void SessionController::onRunTick() {
    // A tick while the engine is still busy is skipped: the rate is a ceiling, the queue never grows.
    if (busy()) return;
    step(std::max<qint64>(1, std::llround(rate_ * run_timer_.interval() / 1000.0)));
}

void SessionController::reset() {
    pause();
    yieldViews();
    worker_->cancel();
    const uint64_t seed = (spec_.sequence_seed + 1) % (kMaxSeed + 1);
    SessionWorker* worker = worker_;
    post([worker, seed] { worker->reset(seed); });
}

void SessionController::setViewStep(qint64 step) {
    step = std::clamp<int64_t>(step, traces_.base_step(), traces_.last_step());
    if (step == view_step_) return;
    view_step_ = step;
    emit viewStepChanged(step);
}

void SessionController::setObserved(int element) {
    if (!hasRun() || element == traces_.info().observed) return;
    traces_.set_observed(element);
    views_done_ = ViewRequest();
    element = traces_.info().observed;
    spec_.observed = element;
    SessionWorker* worker = worker_;
    post([worker, element] { worker->setObserved(element); });
    emit observedChanged(element);
}

void SessionController::saveSnapshot(const QString& path) {
    const int64_t step = view_step_;
    const uint64_t epoch = worker_->epoch();
    SessionWorker* worker = worker_;
    post([worker, path, step, epoch] { worker->saveSnapshot(path, step, epoch); });
}

void SessionController::openSnapshot(const QString& path) {
    pause();
    yieldViews();
    worker_->cancel();
    SessionWorker* worker = worker_;
    post([worker, path] { worker->openSnapshot(path); });
}

void SessionController::setObservation(const ObservationOptions& what) {
    SessionWorker* worker = worker_;
    post([worker, what] { worker->setObservation(what); });
}

void SessionController::intervene(const Intervention& intervention, bool whole_run) {
    if (!hasRun()) return;
    pause();
    yieldViews();
    worker_->cancel();
    const uint64_t epoch = worker_->epoch();
    const int64_t from = whole_run ? traces_.base_step() : view_step_;
    const int64_t target = traces_.last_step();
    SessionWorker* worker = worker_;
    post([worker, intervention, from, target, epoch] { worker->intervene(intervention, from, target, epoch); });
}

void SessionController::clearInterventions() {
    if (!hasRun() || spec_.interventions.empty()) return;
    SessionSpec spec = this->spec();
    spec.interventions.clear();
    open(spec);
}

void SessionController::recomputeViews(const ViewRequest& request) {
    if (request == views_wanted_) return;
    views_wanted_ = request;
    // The wish in flight is no longer what the views lack: it gives way (its records are still added).
    if (views_in_flight_) worker_->cancelViews();
    pumpViews();
}

void SessionController::cancelViews() {
    if (!views_in_flight_) return;
    views_user_cancel_ = true;
    worker_->cancelViews();
}

void SessionController::computeViewsAgain() {
    views_done_ = ViewRequest();
    pumpViews();
}

void SessionController::yieldViews() {
    if (views_in_flight_) worker_->cancelViews();
}

void SessionController::pumpViews() {
    if (views_in_flight_ || busy() || playing_ || !hasRun() || views_wanted_.empty() || views_wanted_ == views_done_)
        return;
    views_in_flight_ = true;
    views_user_cancel_ = false;
    const ViewRequest request = views_wanted_;
    const uint64_t epoch = worker_->epoch(), view_epoch = worker_->viewEpoch();
    SessionWorker* worker = worker_;
    QMetaObject::invokeMethod(
        worker_, [worker, request, epoch, view_epoch] { worker->recomputeViews(request, epoch, view_epoch); },
        Qt::QueuedConnection);
    emit viewsStarted(request);
}

void SessionController::onOpened(const RunInfo& info, const SessionSpec& spec) {
    views_done_ = ViewRequest();
    spec_ = spec;
    traces_.start(info, info.model ? trace_budget(info.model->config(), info.batch) : kMaxTraceBytes);
    saved_ = false;
    view_step_ = info.base_step;
    emit runOpened();
    emit viewStepChanged(view_step_);
}

void SessionController::onStepped(const StepBatch& batch) {
    worker_->acknowledge();
    if (!batch.records || batch.records->empty()) return;
    // The view follows the newest step unless the user is looking at an earlier one.
    const bool following = view_step_ == traces_.last_step();
    const int first = traces_.size();
    traces_.append(*batch.records);
    saved_ = false;
    emit recordsAppended(first);
    std::vector<BatchRecord> originals;
    for (const BatchRecord& r : *batch.records)
        if (r.original) originals.push_back(*r.original);
    if (!originals.empty()) emit originalStepped(originals);
    if (traces_.full()) refuseFullTraces();
    if (following) {
        view_step_ = traces_.last_step();
        emit viewStepChanged(view_step_);
    }
}

void SessionController::onRewound(qint64 step) {
    if (step < traces_.last_step()) {
        emit branching(step);
        saved_ = false;
    }
    traces_.truncate(step);
    views_done_ = ViewRequest();
    view_step_ = step;
    emit truncated(step);
    emit viewStepChanged(step);
}

void SessionController::refuseFullTraces() {
    pause();
    worker_->cancel();
    emit failed(QStringLiteral("step"),
                tr("the run's traces hold %1 steps (%2), their limit (%3: at most 2.1 GB, and the memory "
                   "limit less the window, the model, its state and checkpoints); export them, then Reset or "
                   "Apply for a new run")
                    .arg(traces_.size())
                    .arg(QString::fromStdString(byte_text(double(traces_.bytes()))))
                    .arg(QString::fromStdString(byte_text(double(traces_.max_bytes())))));
}

void SessionController::onCommandDone() {
    if (--pending_ == 0) emit busyChanged(false);
}

}  // namespace stepscope::ui
