// Queued commands to the worker thread, and the run's records kept in step with the worker's replies.
#include "session_controller.h"

#include <QMetaObject>

#include <algorithm>
#include <cmath>

namespace stepscope::ui {

RunController::RunController(QObject* parent) : QObject(parent), worker_(new EngineWorker) {
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(worker_, &EngineWorker::opened, this, &RunController::onOpened);
    connect(worker_, &EngineWorker::stepped, this, &RunController::onStepped);
    connect(worker_, &EngineWorker::rewound, this, &RunController::onRewound);
    connect(worker_, &EngineWorker::progress, this, &RunController::progress);
    connect(worker_, &EngineWorker::stepsFinished, this, &RunController::stepsFinished);
    connect(worker_, &EngineWorker::failed, this, &RunController::failed);
    connect(worker_, &EngineWorker::snapshotSaved, this, &RunController::snapshotSaved);
    connect(worker_, &EngineWorker::branched, this, [this](const SessionSpec& spec) {
        session_.interventions = spec.interventions;
        saved_ = false;  // the saved session lacks the intervention
        emit branched();
    });
    connect(worker_, &EngineWorker::commandDone, this, &RunController::onCommandDone);
    connect(&run_timer_, &QTimer::timeout, this, &RunController::onRunTick);
    // An unbounded run ends only by an error or a cancel; a cancelled command's late report
    // must not stop the run that replaced it.
    connect(this, &RunController::stepsFinished, this, [this](qint64, bool cancelled, const QString& error) {
        if (!error.isEmpty() || (running_ && rate_ == 0 && !cancelled)) pause();
    });
    thread_.setObjectName(QStringLiteral("stepscope-engine"));
    thread_.start();
}

RunController::~RunController() {
    worker_->cancel();
    thread_.quit();
    thread_.wait();
}

template <typename Command>
void RunController::post(Command command) {
    if (pending_++ == 0) emit busyChanged(true);
    QMetaObject::invokeMethod(worker_, std::move(command), Qt::QueuedConnection);
}

SessionSpec RunController::session() const {
    SessionSpec spec = session_;
    spec.steps = traces_.last_step() - traces_.base_step();
    return spec;
}

Checkpoint RunController::stateAt(int64_t step) const {
    Checkpoint result;
    EngineWorker* worker = worker_;
    QMetaObject::invokeMethod(
        worker_, [worker, step] { return worker->stateAt(step); }, Qt::BlockingQueuedConnection, &result);
    return result;
}

void RunController::open(const SessionSpec& spec) {
    pause();
    worker_->cancel();
    const uint64_t epoch = worker_->epoch();
    EngineWorker* worker = worker_;
    post([worker, spec, epoch] { worker->open(spec, epoch); });
}

void RunController::step(qint64 count) {
    if (count <= 0) return;
    if (traces_.full()) {
        refuseFullTraces();
        return;
    }
    // Scrubbed back: the run branches at the viewed step.
    const int64_t from = view_step_ < traces_.last_step() ? view_step_ : -1;
    const uint64_t epoch = worker_->epoch();
    EngineWorker* worker = worker_;
    post([worker, count, from, epoch] { worker->stepMany(count, from, epoch); });
}

void RunController::cancel() { worker_->cancel(); }

namespace {
// A run with no end: stepping at the engine's pace until paused.
constexpr qint64 kUnbounded = qint64(1) << 50;
// The timer never ticks faster than the screen refreshes; faster rates take several steps a tick.
constexpr int kMinTickMs = 16;
}  // namespace

void RunController::run(double steps_per_second) {
    if (!hasRun()) return;
    pause();
    running_ = true;
    rate_ = std::max(0.0, steps_per_second);
    emit runningChanged(true);
    if (rate_ == 0) {
        worker_->cancel();  // a Step N in flight gives way to the run
        step(kUnbounded);
        return;
    }
    run_timer_.start(std::max(kMinTickMs, static_cast<int>(1000.0 / rate_)));
}

void RunController::pause() {
    if (!running_) return;
    running_ = false;
    run_timer_.stop();
    if (rate_ == 0) worker_->cancel();
    emit runningChanged(false);
}

void RunController::onRunTick() {
    // A tick while the engine is still busy is skipped: the rate is a ceiling, the queue never grows.
    if (busy()) return;
    step(std::max<qint64>(1, std::llround(rate_ * run_timer_.interval() / 1000.0)));
}

void RunController::reset() {
    pause();
    worker_->cancel();
    const uint64_t seed = (session_.sequence_seed + 1) % (kMaxSeed + 1);
    EngineWorker* worker = worker_;
    post([worker, seed] { worker->reset(seed); });
}

void RunController::setViewStep(qint64 step) {
    step = std::clamp<int64_t>(step, traces_.base_step(), traces_.last_step());
    if (step == view_step_) return;
    view_step_ = step;
    emit viewStepChanged(step);
}

void RunController::setObserved(int element) {
    if (!hasRun() || element == traces_.info().observed) return;
    traces_.set_observed(element);
    element = traces_.info().observed;
    session_.observed = element;
    EngineWorker* worker = worker_;
    post([worker, element] { worker->setObserved(element); });
    emit observedChanged(element);
}

void RunController::saveSnapshot(const QString& path) {
    const int64_t step = view_step_;
    const uint64_t epoch = worker_->epoch();
    EngineWorker* worker = worker_;
    post([worker, path, step, epoch] { worker->saveSnapshot(path, step, epoch); });
}

void RunController::openSnapshot(const QString& path) {
    pause();
    worker_->cancel();
    EngineWorker* worker = worker_;
    post([worker, path] { worker->openSnapshot(path); });
}

void RunController::setObservation(const ObservationOptions& what) {
    EngineWorker* worker = worker_;
    post([worker, what] { worker->setObservation(what); });
}

void RunController::intervene(const Intervention& intervention, bool whole_run) {
    if (!hasRun()) return;
    pause();
    worker_->cancel();
    const uint64_t epoch = worker_->epoch();
    const int64_t from = whole_run ? traces_.base_step() : view_step_;
    const int64_t target = traces_.last_step();
    EngineWorker* worker = worker_;
    post([worker, intervention, from, target, epoch] { worker->intervene(intervention, from, target, epoch); });
}

void RunController::clearInterventions() {
    if (!hasRun() || session_.interventions.empty()) return;
    SessionSpec spec = session();
    spec.interventions.clear();
    open(spec);
}

void RunController::onOpened(const RunInfo& info, const SessionSpec& spec) {
    session_ = spec;
    traces_.start(info);
    saved_ = false;
    view_step_ = info.base_step;
    emit runOpened();
    emit viewStepChanged(view_step_);
}

void RunController::onStepped(const StepBatch& batch) {
    worker_->acknowledge();
    if (!batch.records || batch.records->empty()) return;
    // The view follows the newest step unless the user is looking at an earlier one.
    const bool following = view_step_ == traces_.last_step();
    const int first = traces_.size();
    traces_.append(*batch.records);
    saved_ = false;
    emit recordsAppended(first);
    if (traces_.full()) refuseFullTraces();
    if (following) {
        view_step_ = traces_.last_step();
        emit viewStepChanged(view_step_);
    }
}

void RunController::onRewound(qint64 step) {
    if (step < traces_.last_step()) {
        emit branching(step);
        saved_ = false;
    }
    traces_.truncate(step);
    view_step_ = step;
    emit truncated(step);
    emit viewStepChanged(step);
}

void RunController::refuseFullTraces() {
    pause();
    worker_->cancel();
    emit failed(QStringLiteral("step"),
                tr("the run's traces hold %1 steps (%2 GB), Stepscope's limit; export them, then Reset or Apply "
                   "for a new run")
                    .arg(traces_.size())
                    .arg(double(traces_.bytes()) / 1e9, 0, 'f', 1));
}

void RunController::onCommandDone() {
    if (--pending_ == 0) emit busyChanged(false);
}

}  // namespace stepscope::ui
