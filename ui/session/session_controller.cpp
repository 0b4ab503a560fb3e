// Queued commands to the worker thread, and the tree of runs kept in step with the worker's replies.
#include "session/session_controller.h"

#include <QMetaObject>
#include <QRegularExpression>

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <set>
#include <utility>

#include "stepscope/memory_budget.h"

namespace stepscope::ui {

namespace {
// A run with no end: stepping at the engine's pace until paused.
constexpr qint64 kUnbounded = qint64(1) << 50;
// The timer never ticks faster than the screen refreshes; faster rates take several steps a tick.
constexpr int kMinTickMs = 16;
// A new run needs room for at least this many steps' traces besides what the other runs hold.
constexpr double kMinStepsOfRoom = 16;

QString bytes(double b) { return QString::fromStdString(byte_text(b)); }

// Names the tree gave ("run 3: linear (elu), ..., steps 0–100", or "run 1" for a session file of one run)
// stay live when loaded: the run's number and step range follow the window's tree.
bool is_automatic_name(const QString& name) {
    static const QRegularExpression automatic(QStringLiteral("^run \\d+(:.*)?$"));
    return automatic.match(name).hasMatch();
}
}  // namespace

SessionController::SessionController(QObject* parent) : QObject(parent), worker_(new SessionWorker) {
    qRegisterMetaType<SessionTree>();
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(worker_, &SessionWorker::runStarted, this, &SessionController::onRunStarted);
    connect(worker_, &SessionWorker::stepped, this, &SessionController::onStepped);
    connect(worker_, &SessionWorker::progress, this, &SessionController::progress);
    connect(worker_, &SessionWorker::stepsFinished, this, &SessionController::stepsFinished);
    connect(worker_, &SessionWorker::failed, this, &SessionController::failed);
    connect(worker_, &SessionWorker::snapshotSaved, this, &SessionController::snapshotSaved);
    connect(worker_, &SessionWorker::commandDone, this, &SessionController::onCommandDone);
    connect(worker_, &SessionWorker::viewsProgress, this, &SessionController::viewsProgress);
    connect(worker_, &SessionWorker::viewsRecomputed, this, [this](const ViewRequest& request, const StepBatch& batch) {
        views_in_flight_ = false;
        // Computed for a run the user has since left: the records still go to that run's line.
        if (batch.records) addObserved(views_run_, *batch.records);
        if (views_run_ == viewed_ || views_run_ == request.run) {
            views_done_ = request;
            emit viewsRecomputed(request);
        }
        pumpViews();
    });
    connect(worker_, &SessionWorker::viewsFailed, this,
            [this](const ViewRequest& request, const QString& message, bool cancelled) {
                views_in_flight_ = false;
                // Stopped for steps or for another wish: computed again when the views still lack it.
                const bool by_user = cancelled && std::exchange(views_user_cancel_, false);
                if (views_run_ == viewed_ || views_run_ == request.run) {
                    if (by_user || !cancelled) views_done_ = request;
                    emit viewsFailed(request, message, by_user || !cancelled);
                }
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
        emit runsChanged();
    });
    thread_.setObjectName(QStringLiteral("stepscope-engine"));
    thread_.start();
}

SessionController::~SessionController() {
    worker_->cancel();
    thread_.quit();
    thread_.wait();
    tree_.clear();
}

template <typename Command>
void SessionController::post(Command command) {
    if (pending_++ == 0) emit busyChanged(true);
    QMetaObject::invokeMethod(worker_, std::move(command), Qt::QueuedConnection);
}

const TraceStore& SessionController::traces() const {
    static const TraceStore none;
    const Run* run = tree_.find(viewed_);
    return run ? *run->traces : none;
}

SessionSpec SessionController::spec() const {
    const Run* run = tree_.find(viewed_);
    if (!run) return {};
    SessionSpec spec = run->spec;
    spec.steps = run->last_step() - run->traces->base_step();
    spec.observed = run->traces->info().observed;
    return spec;
}

SessionTree SessionController::sessionTree() const {
    SessionTree out;
    for (const auto& run : tree_.runs()) {
        RunEntry entry;
        entry.name = tree_.name(*run);
        if (const Run* parent = tree_.find(run->parent)) entry.parent = tree_.name(*parent);
        entry.branch_step = run->parent >= 0 ? run->branch_step() : 0;
        entry.color = run->color;
        entry.visible = run->visible;
        entry.spec = run->spec;
        entry.spec.steps = run->last_step() - run->traces->base_step();
        entry.spec.observed = run->traces->info().observed;
        if (run->id == viewed_) out.viewed = entry.name;
        out.runs.push_back(entry);
    }
    return out;
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

std::size_t SessionController::traceRoom(const ModelConfig& config, int batch) const {
    // Each run keeps its model (for its labels and shape): the models of the runs there are count too.
    std::set<const Model*> models;
    double held = double(tree_.bytes());
    for (const auto& run : tree_.runs())
        if (const auto& model = run->traces->info().model; model && models.insert(model.get()).second)
            held += estimate_model_bytes(model->config());
    const double budget = double(trace_budget(config, batch));
    return budget > held ? std::size_t(budget - held) : 0;
}

bool SessionController::roomForNewRun(const SessionSpec& spec) {
    // The first run takes what the limit leaves it, as its steps say when they reach it.
    if (tree_.empty()) return true;
    const double room = double(traceRoom(spec.config, spec.batch));
    if (room >= kMinStepsOfRoom * trace_bytes_per_step(spec.config, spec.batch)) return true;
    emit failed(QStringLiteral("memory"),
                tr("the %1 runs hold %2 of traces, with their models all the memory limit leaves for them (%3, "
                   "STEPSCOPE_MAX_MEMORY): save the session, then delete older runs in the Runs pane to start another")
                    .arg(tree_.size())
                    .arg(bytes(double(tree_.bytes())), bytes(double(trace_budget(spec.config, spec.batch)))));
    return false;
}

void SessionController::open(const SessionSpec& spec) {
    pause();
    yieldViews();
    worker_->cancel();
    if (!roomForNewRun(spec)) return;
    tree_view_ = -1;
    tree_view_taken_ = false;
    const uint64_t epoch = worker_->epoch();
    const int run = newRunId();
    SessionWorker* worker = worker_;
    post([worker, spec, run, epoch] { worker->open(spec, run, epoch); });
}

void SessionController::openTree(const SessionTree& tree) {
    pause();
    yieldViews();
    worker_->cancel();
    if (tree.runs.empty() || !roomForNewRun(tree.runs.front().spec)) return;
    std::map<QString, int> ids;
    std::vector<TreeOrder> orders;
    tree_view_ = -1;
    for (const RunEntry& entry : tree.runs) {
        TreeOrder order;
        order.run = newRunId();
        order.parent = entry.parent.isEmpty() ? -1 : ids.at(entry.parent);
        order.branch_step = entry.branch_step;
        order.spec = entry.spec;
        ids[entry.name] = order.run;
        if (entry.name == tree.viewed) tree_view_ = order.run;
        pending_entries_[order.run] = entry;
        orders.push_back(std::move(order));
    }
    tree_view_taken_ = false;
    const uint64_t epoch = worker_->epoch();
    SessionWorker* worker = worker_;
    post([worker, orders, epoch] { worker->openTree(orders, epoch); });
}

StepOrder SessionController::continueOrder(int id, int64_t count) const {
    StepOrder order;
    const Run* run = tree_.find(id);
    order.run = id;
    order.from = run->last_step();
    order.spec = run->spec;
    order.sharing = {id};
    order.count = count;
    return order;
}

StepOrder SessionController::branchOrder(int64_t step, int64_t count) const {
    StepOrder order;
    const int owner = tree_.owner_of(viewed_, step);
    const Run* parent = tree_.find(owner);
    order.parent = owner;
    order.from = step;
    order.spec = parent->spec;
    // The parent's interventions after the branch step are not the branch's; those at it stack with the branch's own.
    auto& edits = order.spec.interventions;
    edits.erase(std::remove_if(edits.begin(), edits.end(), [step](const Intervention& i) { return i.step > step; }),
                edits.end());
    order.sharing = tree_.sharing(owner, step);
    order.count = count;
    return order;
}

void SessionController::step(qint64 count) {
    if (count <= 0 || !hasRun()) return;
    const Run* viewed = tree_.find(viewed_);
    StepOrder order;
    if (view_step_ < viewed->last_step()) {
        // Scrubbed back: a new branch takes the steps, and the run keeps its own.
        order = branchOrder(view_step_, count);
        if (!roomForNewRun(order.spec)) return;
        order.run = newRunId();
    } else {
        if (viewed->traces->full()) {
            refuseFullTraces();
            return;
        }
        order = continueOrder(viewed_, count);
    }
    yieldViews();
    tree_view_ = -1;
    tree_view_taken_ = false;
    const uint64_t epoch = worker_->epoch();
    SessionWorker* worker = worker_;
    post([worker, order, epoch] { worker->stepRun(order, epoch); });
}

void SessionController::cancel() { worker_->cancel(); }

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
    if (!hasRun()) return;
    SessionSpec next = spec();
    next.sequence_seed = (next.sequence_seed + 1) % (kMaxSeed + 1);
    next.steps = 0;
    next.snapshot_path.clear();
    next.interventions.clear();
    open(next);
}

void SessionController::setViewStep(qint64 step) {
    step = std::clamp<int64_t>(step, traces().base_step(), traces().last_step());
    if (step == view_step_) return;
    view_step_ = step;
    emit viewStepChanged(step);
}

void SessionController::setObserved(int element) {
    if (!hasRun() || element == traces().info().observed) return;
    tree_.set_observed(element);
    views_done_ = ViewRequest();
    element = traces().info().observed;
    SessionWorker* worker = worker_;
    post([worker, element] { worker->setObserved(element); });
    emit observedChanged(element);
}

void SessionController::saveSnapshot(const QString& path) {
    if (!hasRun()) return;
    const int64_t step = view_step_;
    StepOrder order = continueOrder(viewed_, 0);
    // The live session can give the state when its records show that step.
    order.sharing = tree_.sharing(tree_.owner_of(viewed_, step), step);
    const uint64_t epoch = worker_->epoch();
    SessionWorker* worker = worker_;
    post([worker, path, order, step, epoch] { worker->saveSnapshot(path, order, step, epoch); });
}

void SessionController::openSnapshot(const QString& path) {
    pause();
    yieldViews();
    worker_->cancel();
    const int run = newRunId();
    const SessionSpec model_of = spec();
    SessionWorker* worker = worker_;
    post([worker, path, run, model_of] { worker->openSnapshot(path, run, model_of); });
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
    const int64_t from = whole_run ? traces().base_step() : view_step_;
    const int64_t target = traces().last_step();
    StepOrder order = branchOrder(from, std::max<int64_t>(0, target - from));
    if (whole_run) {
        // The viewed run again from its start, its own interventions kept where they are: a branch of it at its start.
        order.parent = viewed_;
        order.spec = tree_.find(viewed_)->spec;
        order.sharing = tree_.sharing(viewed_, from);
    }
    if (!roomForNewRun(order.spec)) return;
    order.run = newRunId();
    order.intervention = intervention;
    tree_view_ = -1;
    tree_view_taken_ = false;
    const uint64_t epoch = worker_->epoch();
    SessionWorker* worker = worker_;
    post([worker, order, epoch] { worker->stepRun(order, epoch); });
}

void SessionController::clearInterventions() {
    if (!hasRun() || spec().interventions.empty()) return;
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
    // The viewed run, or another run shown whose map the heatmap compares with.
    const int run = views_wanted_.run >= 0 ? views_wanted_.run : viewed_;
    if (!tree_.find(run)) return;
    views_in_flight_ = true;
    views_user_cancel_ = false;
    views_run_ = run;
    const ViewRequest request = views_wanted_;
    // That run where it is: the worker makes it the live run first when another one is.
    const StepOrder order = continueOrder(run, 0);
    const uint64_t epoch = worker_->epoch(), view_epoch = worker_->viewEpoch();
    SessionWorker* worker = worker_;
    QMetaObject::invokeMethod(
        worker_,
        [worker, request, order, epoch, view_epoch] { worker->recomputeViews(request, order, epoch, view_epoch); },
        Qt::QueuedConnection);
    emit viewsStarted(request);
}

void SessionController::addObserved(int id, const std::vector<BatchRecord>& records) {
    // A branch shows its parent's records up to its branch step: those steps' rows belong in the parent's.
    std::map<int, std::vector<BatchRecord>> by_run;
    for (const BatchRecord& r : records) {
        const Run* run = tree_.find(id);
        while (run && run->parent >= 0 && r.step <= run->branch_step()) run = tree_.find(run->parent);
        if (run) by_run[run->id].push_back(r);
    }
    for (auto& [owner, rows] : by_run) tree_.find(owner)->traces->add_observed(rows);
}

void SessionController::view(int id) {
    viewed_ = id;
    views_done_ = ViewRequest();
    view_step_ = traces().last_step();
    emit runOpened();
    emit viewStepChanged(view_step_);
    pumpViews();
}

bool SessionController::selectRun(int id) {
    if (!tree_.find(id)) return false;
    if (id != viewed_) view(id);
    return true;
}

void SessionController::setRunVisible(int id, bool visible) {
    if (Run* run = tree_.find(id); run && run->visible != visible) {
        run->visible = visible;
        emit runsChanged();
    }
}

bool SessionController::renameRun(int id, const QString& name) {
    if (!tree_.rename(id, name)) return false;
    emit runsChanged();
    return true;
}

void SessionController::deleteRun(int id) {
    const Run* run = tree_.find(id);
    if (!run) return;
    const int parent = run->parent;
    // The engine may be stepping one of them: its records would have nowhere to go.
    if (busy()) {
        pause();
        worker_->cancel();
    }
    const std::vector<int> gone = tree_.remove(id);
    const bool viewed_gone = std::find(gone.begin(), gone.end(), viewed_) != gone.end();
    if (viewed_gone) {
        if (tree_.find(parent)) view(parent);
        else if (!tree_.empty()) view(tree_.runs().back()->id);
        else {
            viewed_ = -1;
            view_step_ = 0;
            emit runOpened();
        }
    }
    emit runsChanged();
}

void SessionController::onRunStarted(int run, int parent, qint64 branch_step, const RunInfo& info,
                                     const SessionSpec& spec) {
    const std::size_t room = info.model ? traceRoom(info.model->config(), info.batch) : kMaxTraceBytes;
    Run& added = parent >= 0 && tree_.find(parent) ? tree_.add_branch(run, parent, branch_step, info, spec, room)
                                                   : tree_.add_root(run, info, spec, room);
    added.traces->set_observed(hasRun() ? traces().info().observed : info.observed);
    if (const auto entry = pending_entries_.find(run); entry != pending_entries_.end()) {
        if (!is_automatic_name(entry->second.name)) added.user_name = entry->second.name;
        added.color = entry->second.color;
        added.visible = entry->second.visible;
        added.saved_step = added.traces->base_step() + entry->second.spec.steps;
        pending_entries_.erase(entry);
    }
    // A session file's runs each take the view as they start, until the one it viewed has.
    if (!tree_view_taken_) view(run);
    if (run == tree_view_) tree_view_taken_ = true;
    if (parent >= 0) emit branched(run, parent, branch_step);
    emit runsChanged();
}

void SessionController::onStepped(const StepBatch& batch) {
    worker_->acknowledge();
    Run* run = tree_.find(batch.run);
    if (!run || !batch.records || batch.records->empty()) return;  // a run deleted while it stepped
    TraceStore& traces = *run->traces;
    const bool viewed = batch.run == viewed_;
    // The view follows the newest step unless the user is looking at an earlier one.
    const bool following = viewed && view_step_ == traces.last_step();
    const int first = traces.size();
    const bool was_full = traces.full();
    traces.append(*batch.records);
    extendParent(*run, *batch.records);
    if (viewed) emit recordsAppended(first);
    // Said once: batches already in flight still arrive and are kept.
    if (traces.full() && !was_full) refuseFullTraces();
    if (following) {
        view_step_ = traces.last_step();
        emit viewStepChanged(view_step_);
    }
}

void SessionController::extendParent(const Run& branch, const std::vector<BatchRecord>& records) {
    Run* parent = tree_.find(branch.parent);
    if (!parent || !parent->spec.interventions.empty() || parent->traces->full()) return;
    std::vector<BatchRecord> originals;
    for (const BatchRecord& r : records)
        if (r.original && r.original->step == parent->last_step() + 1 + int64_t(originals.size()))
            originals.push_back(*r.original);
    if (!originals.empty()) parent->traces->append(originals);
}

void SessionController::refuseFullTraces() {
    pause();
    worker_->cancel();
    const TraceStore& t = traces();
    const QString others = tree_.size() > 1 ? tr(" beside the other %1 runs").arg(tree_.size() - 1) : QString();
    emit failed(QStringLiteral("step"),
                tr("the run's traces hold %1 steps (%2), all the memory limit leaves them%3 (%4 at most); save the "
                   "session, then delete older runs in the Runs pane, or export the traces and Reset")
                    .arg(t.own_size())
                    .arg(bytes(double(t.bytes())), others, bytes(double(t.max_bytes()))));
}

void SessionController::onCommandDone() {
    if (--pending_ == 0) emit busyChanged(false);
}

}  // namespace stepscope::ui
