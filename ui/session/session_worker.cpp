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
}

SessionWorker::~SessionWorker() = default;

void SessionWorker::open(const SessionSpec& spec, uint64_t epoch) {
    try {
        auto session = Session::open(spec);
        session->set_observation(observation_);
        session_ = std::move(session);
        emit opened(session_->info(), session_->spec());
        runSteps(spec.steps, epoch);
    } catch (const OpenError& e) {
        emit failed(e.part(), QString::fromStdString(e.what()));
    } catch (const std::exception& e) {
        emit failed(QStringLiteral("model"), message_of(e));
    }
    emit commandDone();
}

void SessionWorker::openSnapshot(const QString& path) {
    try {
        const SafetensorsFile file = read_safetensors(path.toStdString());
        const auto stored_session = file.metadata.find(kSessionMetadata);
        std::unique_ptr<Session> session;
        if (stored_session != file.metadata.end()) {
            // Written by Stepscope: the session says how to rebuild the model and its inputs.
            QJsonParseError parse_error;
            const QJsonDocument document =
                QJsonDocument::fromJson(QByteArray::fromStdString(stored_session->second), &parse_error);
            if (!document.isObject())
                throw Error(path.toStdString() + ": metadata 'stored_session' is not a JSON object");
            SessionSpec spec = session_from_json(document.object());
            spec.steps = 0;
            // The state is host data: it continues on this window's device, whichever one saved it.
            spec.device = session_ ? session_->device() : Device::Cpu;
            const bool same_model = session_ && session_->model()->config() == spec.config &&
                                    session_->spec().weights_path == spec.weights_path &&
                                    session_->spec().weights_seed == spec.weights_seed;
            session = std::make_unique<Session>(same_model ? session_->model() : build_model(spec), spec);
        } else {
            if (!session_) throw Error(path.toStdString() + ": no model to continue this snapshot with");
            session = std::make_unique<Session>(session_->model(), session_->spec());
        }
        session->restore(path);
        session->set_observation(observation_);
        session_ = std::move(session);
        emit opened(session_->info(), session_->spec());
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
    emit stepped(StepBatch{std::move(records)});
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

void SessionWorker::stepMany(int64_t count, int64_t from, uint64_t epoch) {
    if (session_ && !cancelled(epoch) && from >= 0 && from < session_->current_step()) {
        try {
            session_->rewind(from, [this, epoch] { return cancelled(epoch); });
            emit rewound(from);
        } catch (const RunCancelled&) {
            emit stepsFinished(0, true, {});
            emit commandDone();
            return;
        } catch (const std::exception& e) {
            emit stepsFinished(0, false, message_of(e));
            emit commandDone();
            return;
        }
    }
    runSteps(count, epoch);
    emit commandDone();
}

void SessionWorker::setObserved(int element) {
    if (session_) session_->set_observed(element);
    emit commandDone();
}

void SessionWorker::reset(uint64_t sequence_seed) {
    if (session_) {
        try {
            session_->reset(sequence_seed);
            emit opened(session_->info(), session_->spec());
        } catch (const std::exception& e) {
            emit failed(QStringLiteral("step"), message_of(e));
        }
    }
    emit commandDone();
}

void SessionWorker::saveSnapshot(const QString& path, int64_t step, uint64_t epoch) {
    try {
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

void SessionWorker::intervene(const Intervention& intervention, int64_t from, int64_t target, uint64_t epoch) {
    if (session_ && !cancelled(epoch)) {
        try {
            // Refused before anything is rewound: the run stays as it is.
            if (from < session_->base_step() || from > session_->current_step())
                throw Error("step " + std::to_string(from) + " is outside the run");
            session_->check_intervention(intervention, from);
            if (from < session_->current_step()) {
                session_->rewind(from, [this, epoch] { return cancelled(epoch); });
                emit rewound(from);
            }
            session_->intervene(intervention);
            emit branched(session_->spec());
            runSteps(std::max<int64_t>(0, target - from), epoch);
        } catch (const RunCancelled&) {
        } catch (const std::exception& e) {
            emit failed(QStringLiteral("intervention"), message_of(e));
        }
    }
    emit commandDone();
}

void SessionWorker::recomputeViews(const ViewRequest& request, uint64_t epoch, uint64_t view_epoch) {
    auto stopped = [this, epoch, view_epoch] { return cancelled(epoch) || view_epoch_.load() != view_epoch; };
    try {
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
        auto records = std::make_shared<std::vector<BatchRecord>>(recompute_views(*session_, request, progress, stopped));
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
