// The worker's commands: each catches every failure, reports it, and leaves the previous run in place.
#include "session/session_worker.h"

#include <QJsonDocument>

#include <algorithm>
#include <chrono>
#include <thread>

#include "stepscope/error.h"
#include "stepscope/safetensors.h"

namespace stepscope::ui {

namespace {

// Results go to the UI as often as it draws them while steps stream in (PlotPanel: 12 frames a second):
// each batch costs the UI thread its appends and a repaint of the progress and the timeline.
constexpr auto kFlushInterval = std::chrono::milliseconds(83);
constexpr size_t kMaxRecordsPerBatch = 256;
// Batches sent and not yet taken by the window: enough to overlap stepping and drawing.
constexpr int kMaxBatchesInFlight = 2;

QString message_of(const std::exception& e) {
    if (dynamic_cast<const std::bad_alloc*>(&e)) return QStringLiteral("out of memory");
    return QString::fromStdString(e.what());
}

}  // namespace

SessionWorker::SessionWorker() {
    qRegisterMetaType<RunInfo>();
    qRegisterMetaType<StepBatch>();
    qRegisterMetaType<SessionSpec>();
    qRegisterMetaType<ViewRequest>();
    qRegisterMetaType<StepOrder>();
}

SessionWorker::~SessionWorker() = default;

std::unique_ptr<Session> SessionWorker::make_session(const SessionSpec& spec) const {
    const bool same_model = session_ && spec.snapshot_path.isEmpty() && session_->model()->config() == spec.config &&
                            session_->spec().weights_path == spec.weights_path &&
                            (!spec.weights_path.isEmpty() || session_->spec().weights_seed == spec.weights_seed);
    if (!same_model) return Session::open(spec);
    QString part = QStringLiteral("device");
    try {
        auto stepper = make_stepper(session_->model(), spec.device);
        part = QStringLiteral("input");
        return std::make_unique<Session>(session_->model(), spec, std::move(stepper));
    } catch (const Error& e) {
        throw OpenError(part, e.what(), e.parameter());
    }
}

void SessionWorker::open(const SessionSpec& spec, int run, uint64_t epoch) {
    try {
        auto session = make_session(spec);
        session->set_observation(observation_);
        session_ = std::move(session);
        live_ = run;
        emit runStarted(run, -1, 0, session_->info(), session_->spec());
        runSteps(spec.steps, epoch);
    } catch (const OpenError& e) {
        emit failed(e.part(), QString::fromStdString(e.what()));
    } catch (const std::exception& e) {
        emit failed(QStringLiteral("model"), message_of(e));
    }
    emit commandDone();
}

void SessionWorker::openTree(const std::vector<TreeOrder>& runs, uint64_t epoch) {
    for (const TreeOrder& r : runs) {
        if (cancelled(epoch)) break;
        try {
            // A branch is its own session stepped unrecorded to its branch step: its interventions
            // then apply where the file says, and the records before are its parent's.
            auto session = make_session(r.spec);
            session->set_observation(observation_);
            session->fast_forward(r.branch_step, [this, epoch] { return cancelled(epoch); });
            session_ = std::move(session);
            live_ = r.run;
            emit runStarted(r.run, r.parent, r.branch_step, session_->info(), session_->spec());
            runSteps(r.spec.steps - r.branch_step, epoch);
        } catch (const RunCancelled&) {
            break;
        } catch (const OpenError& e) {
            emit failed(e.part(), QString::fromStdString(e.what()));
            break;
        } catch (const std::exception& e) {
            emit failed(QStringLiteral("model"), message_of(e));
            break;
        }
    }
    emit commandDone();
}

void SessionWorker::openSnapshot(const QString& path, int run, const SessionSpec& model_of) {
    try {
        const SafetensorsFile file = read_safetensors(path.toStdString());
        const auto stored_session = file.metadata.find(kSessionMetadata);
        SessionSpec spec = model_of;
        if (stored_session != file.metadata.end()) {
            // Written by Stepscope: the session says how to rebuild the model and its inputs.
            QJsonParseError parse_error;
            const QJsonDocument document =
                QJsonDocument::fromJson(QByteArray::fromStdString(stored_session->second), &parse_error);
            if (!document.isObject())
                throw Error(path.toStdString() + ": metadata 'stored_session' is not a JSON object");
            spec = session_from_json(document.object());
            // The state is host data: it continues on this window's device, whichever one saved it.
            spec.device = session_ ? session_->device() : Device::Cpu;
        } else if (!session_) {
            throw Error(path.toStdString() + ": no model to continue this snapshot with");
        }
        spec.steps = 0;
        spec.snapshot_path.clear();
        auto session = make_session(spec);
        session->restore(path);
        session->set_observation(observation_);
        session_ = std::move(session);
        live_ = run;
        emit runStarted(run, -1, 0, session_->info(), session_->spec());
    } catch (const std::exception& e) {
        emit failed(QStringLiteral("snapshot"), message_of(e));
    }
    emit commandDone();
}

bool SessionWorker::waitForRoom(uint64_t epoch) {
    while (unacknowledged_.load() >= kMaxBatchesInFlight) {
        if (cancelled(epoch)) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

void SessionWorker::send(std::shared_ptr<std::vector<BatchRecord>>& records) {
    ++unacknowledged_;
    emit stepped(StepBatch{std::move(records), live_});
    records = std::make_shared<std::vector<BatchRecord>>();
}

void SessionWorker::runSteps(int64_t count, uint64_t epoch) {
    if (!session_ || count <= 0) {
        emit stepsFinished(0, false, {});
        return;
    }
    auto records = std::make_shared<std::vector<BatchRecord>>();
    auto last_flush = std::chrono::steady_clock::now();
    int64_t done = 0;
    QString error;
    while (done < count && !cancelled(epoch)) {
        try {
            records->push_back(session_->advance());
        } catch (const std::exception& e) {
            error = message_of(e);
            break;
        }
        ++done;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_flush >= kFlushInterval || records->size() >= kMaxRecordsPerBatch) {
            // Cancelled while waiting: the records held go out below, with the last ones.
            if (!waitForRoom(epoch)) break;
            send(records);
            emit progress(done, count);
            last_flush = now;
        }
    }
    // Steps taken are the run's, cancelled or not: the last records go out whatever the receiver's backlog.
    if (!records->empty()) send(records);
    emit progress(done, count);
    emit stepsFinished(done, done < count && error.isEmpty(), error);
}

void SessionWorker::ensure(const StepOrder& order, const std::function<bool()>& cancel) {
    const bool live_shares = session_ &&
                             std::find(order.sharing.begin(), order.sharing.end(), live_) != order.sharing.end() &&
                             session_->base_step() <= order.from && session_->current_step() >= order.from;
    if (order.parent < 0 && live_ == order.run && session_ && session_->current_step() == order.from) return;
    if (live_shares) {
        if (session_->current_step() > order.from) {
            live_ = -1;  // from here on the session is no run's until it becomes the order's
            session_->rewind(order.from, cancel);
        }
    } else {
        live_ = -1;
        auto session = make_session(order.spec);
        session->set_observation(observation_);
        session_ = std::move(session);
        session_->fast_forward(order.from, cancel);
    }
    if (order.parent < 0) return;
    // A branch's session holds its interventions from the step on as the order lists them: the live
    // run rewound there may have been another branch at that step, with edits of its own.
    std::vector<Intervention> later;
    for (const Intervention& i : order.spec.interventions)
        if (i.step >= order.from) later.push_back(i);
    session_->replace_interventions_from(order.from, later);
}

void SessionWorker::stepRun(const StepOrder& order, uint64_t epoch) {
    if (cancelled(epoch)) {
        emit commandDone();
        return;
    }
    const QString context = order.intervention ? QStringLiteral("intervention") : QStringLiteral("step");
    try {
        ensure(order, [this, epoch] { return cancelled(epoch); });
        if (order.intervention) session_->intervene(*order.intervention);
        live_ = order.run;
        if (order.parent >= 0) emit runStarted(order.run, order.parent, order.from, session_->info(), session_->spec());
    } catch (const RunCancelled&) {
        emit stepsFinished(0, true, {});
        emit commandDone();
        return;
    } catch (const std::exception& e) {
        // A refused intervention leaves the live session at the branch step, no run's: rebuilt when next asked.
        live_ = -1;
        if (order.intervention) emit failed(context, message_of(e));
        else emit stepsFinished(0, false, message_of(e));
        emit commandDone();
        return;
    }
    runSteps(order.count, epoch);
    emit commandDone();
}

void SessionWorker::setObserved(int element) {
    if (session_) session_->set_observed(element);
    emit commandDone();
}

void SessionWorker::saveSnapshot(const QString& path, const StepOrder& order, int64_t step, uint64_t epoch) {
    try {
        const bool readable = session_ &&
                              std::find(order.sharing.begin(), order.sharing.end(), live_) != order.sharing.end() &&
                              session_->base_step() <= step && session_->current_step() >= step;
        if (!readable) {
            // Rebuilt where the run is: `sharing` named the runs whose records show that step.
            StepOrder own = order;
            own.sharing = {order.run};
            ensure(own, [this, epoch] { return cancelled(epoch); });
            live_ = order.run;
        }
        if (!session_) throw Error("no run to save");
        session_->save_snapshot(path, step, [this, epoch] { return cancelled(epoch); });
        emit snapshotSaved(path);
    } catch (const RunCancelled&) {
        emit failed(QStringLiteral("snapshot"), tr("cancelled before %1 was written").arg(path));
    } catch (const std::exception& e) {
        emit failed(QStringLiteral("snapshot"), message_of(e));
    }
    emit commandDone();
}

void SessionWorker::setObservation(const ObservationOptions& what) {
    observation_ = what;
    if (session_) session_->set_observation(what);
    emit commandDone();
}

void SessionWorker::recomputeViews(const ViewRequest& request, const StepOrder& order, uint64_t epoch,
                                   uint64_t view_epoch) {
    auto stopped = [this, epoch, view_epoch] { return cancelled(epoch) || view_epoch_.load() != view_epoch; };
    try {
        // The live session's checkpoints are its run's (a branch rewound from its parent shares the parent's
        // up to the branch step); another run's would give that run's values. So another run viewed becomes the
        // live one first, as a step of it would make it: its session, stepped unrecorded to where it is.
        if (order.run != live_) {
            if (order.run < 0) throw Error("there is no run to compute views of");
            ensure(order, stopped);
            live_ = order.run;
        }
        if (!session_) throw Error("there is no run to compute views of");
        if (stopped()) throw RunCancelled{};
        // Progress as often as the window draws it, not at every step.
        auto last_report = std::chrono::steady_clock::now() - kFlushInterval;
        auto progress = [this, &last_report](int64_t done, int64_t total) {
            const auto now = std::chrono::steady_clock::now();
            if (now - last_report < kFlushInterval && done < total) return;
            last_report = now;
            emit viewsProgress(done, total);
        };
        auto records =
            std::make_shared<std::vector<BatchRecord>>(recompute_views(*session_, request, progress, stopped));
        emit viewsRecomputed(request, StepBatch{std::move(records)});
    } catch (const RunCancelled&) {
        emit viewsFailed(request, tr("cancelled"), true);
    } catch (const std::exception& e) {
        emit viewsFailed(request, message_of(e), false);
    }
}

Checkpoint SessionWorker::stateAt(int64_t step) const {
    if (!session_) throw Error("there is no run to read a state from");
    return session_->state_at(step);
}

}  // namespace stepscope::ui
