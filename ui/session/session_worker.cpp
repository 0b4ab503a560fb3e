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

// Results go to the UI about as often as it can draw them.
constexpr auto kFlushInterval = std::chrono::milliseconds(33);
constexpr size_t kMaxRecordsPerBatch = 256;
// Batches sent and not yet taken by the window: enough to overlap stepping and drawing.
constexpr int kMaxBatchesInFlight = 2;

QString message_of(const std::exception& e) {
    if (dynamic_cast<const std::bad_alloc*>(&e)) return QStringLiteral("out of memory");
    return QString::fromStdString(e.what());
}

}  // namespace

EngineWorker::EngineWorker() {
    qRegisterMetaType<RunInfo>();
    qRegisterMetaType<StepBatch>();
    qRegisterMetaType<SessionSpec>();
}

EngineWorker::~EngineWorker() = default;

void EngineWorker::open(const SessionSpec& spec, uint64_t epoch) {
    QString context = spec.weights_path.isEmpty() ? QStringLiteral("model") : QStringLiteral("weights");
    try {
        auto model = build_model(spec);
        context = QStringLiteral("device");
        auto stepper = make_stepper(model, spec.device);
        context = QStringLiteral("input");
        auto runner = std::make_unique<Runner>(std::move(model), spec, std::move(stepper));
        if (!spec.snapshot_path.isEmpty()) {
            context = QStringLiteral("snapshot");
            runner->restore(spec.snapshot_path);
        }
        runner->set_observation(observation_);
        runner_ = std::move(runner);
        emit opened(runner_->info(), runner_->spec());
        runSteps(spec.steps, epoch);
    } catch (const std::exception& e) {
        emit failed(context, message_of(e));
    }
    emit commandDone();
}

void EngineWorker::openSnapshot(const QString& path) {
    try {
        const SafetensorsFile file = read_safetensors(path.toStdString());
        const auto session = file.metadata.find(kSessionMetadata);
        std::unique_ptr<Runner> runner;
        if (session != file.metadata.end()) {
            // Written by Stepscope: the session says how to rebuild the model and its inputs.
            QJsonParseError parse_error;
            const QJsonDocument document =
                QJsonDocument::fromJson(QByteArray::fromStdString(session->second), &parse_error);
            if (!document.isObject())
                throw Error(path.toStdString() + ": metadata 'session' is not a JSON object");
            SessionSpec spec = session_from_json(document.object());
            spec.steps = 0;
            // The state is host data: it continues on this window's device, whichever one saved it.
            spec.device = runner_ ? runner_->device() : Device::Cpu;
            const bool same_model = runner_ && runner_->model()->config() == spec.config &&
                                    runner_->spec().weights_path == spec.weights_path &&
                                    runner_->spec().weights_seed == spec.weights_seed;
            runner = std::make_unique<Runner>(same_model ? runner_->model() : build_model(spec), spec);
        } else {
            if (!runner_) throw Error(path.toStdString() + ": no model to continue this snapshot with");
            runner = std::make_unique<Runner>(runner_->model(), runner_->spec());
        }
        runner->restore(path);
        runner->set_observation(observation_);
        runner_ = std::move(runner);
        emit opened(runner_->info(), runner_->spec());
    } catch (const std::exception& e) {
        emit failed(QStringLiteral("snapshot"), message_of(e));
    }
    emit commandDone();
}

bool EngineWorker::send(StepBatch batch, uint64_t epoch) {
    while (unacknowledged_.load() >= kMaxBatchesInFlight) {
        if (cancelled(epoch)) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ++unacknowledged_;
    emit stepped(batch);
    return true;
}

void EngineWorker::runSteps(int64_t count, uint64_t epoch) {
    if (!runner_ || count <= 0) {
        emit stepsFinished(0, false, {});
        return;
    }
    auto records = std::make_shared<std::vector<BatchRecord>>();
    auto last_flush = std::chrono::steady_clock::now();
    int64_t done = 0;
    QString error;
    while (done < count && !cancelled(epoch)) {
        try {
            records->push_back(runner_->advance());
        } catch (const std::exception& e) {
            error = message_of(e);
            break;
        }
        ++done;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_flush >= kFlushInterval || records->size() >= kMaxRecordsPerBatch) {
            if (!send(StepBatch{std::move(records)}, epoch)) break;
            emit progress(done, count);
            records = std::make_shared<std::vector<BatchRecord>>();
            last_flush = now;
        }
    }
    // Steps taken are the run's, cancelled or not: the last records go out whatever the receiver's backlog.
    if (!records->empty()) {
        ++unacknowledged_;
        emit stepped(StepBatch{std::move(records)});
    }
    emit progress(done, count);
    emit stepsFinished(done, done < count && error.isEmpty(), error);
}

void EngineWorker::stepMany(int64_t count, int64_t from, uint64_t epoch) {
    if (runner_ && !cancelled(epoch) && from >= 0 && from < runner_->step()) {
        try {
            runner_->rewind(from, [this, epoch] { return cancelled(epoch); });
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

void EngineWorker::setObserved(int element) {
    if (runner_) runner_->set_observed(element);
    emit commandDone();
}

void EngineWorker::reset(uint64_t sequence_seed) {
    if (runner_) {
        try {
            runner_->reset(sequence_seed);
            emit opened(runner_->info(), runner_->spec());
        } catch (const std::exception& e) {
            emit failed(QStringLiteral("step"), message_of(e));
        }
    }
    emit commandDone();
}

void EngineWorker::saveSnapshot(const QString& path, int64_t step, uint64_t epoch) {
    try {
        if (!runner_) throw Error("no run to save");
        runner_->save_snapshot(path, step, [this, epoch] { return cancelled(epoch); });
        emit snapshotSaved(path);
    } catch (const RunCancelled&) {
        emit failed(QStringLiteral("snapshot"), tr("cancelled before %1 was written").arg(path));
    } catch (const std::exception& e) {
        emit failed(QStringLiteral("snapshot"), message_of(e));
    }
    emit commandDone();
}

void EngineWorker::setObservation(const ObservationOptions& what) {
    observation_ = what;
    if (runner_) runner_->set_observation(what);
    emit commandDone();
}

void EngineWorker::intervene(const Intervention& intervention, int64_t from, int64_t target, uint64_t epoch) {
    if (runner_ && !cancelled(epoch)) {
        try {
            // Refused before anything is rewound: the run stays as it is.
            if (from < runner_->base_step() || from > runner_->step())
                throw Error("step " + std::to_string(from) + " is outside the run");
            runner_->check_intervention(intervention, from);
            if (from < runner_->step()) {
                runner_->rewind(from, [this, epoch] { return cancelled(epoch); });
                emit rewound(from);
            }
            runner_->intervene(intervention);
            emit branched(runner_->spec());
            runSteps(std::max<int64_t>(0, target - from), epoch);
        } catch (const RunCancelled&) {
        } catch (const std::exception& e) {
            emit failed(QStringLiteral("intervention"), message_of(e));
        }
    }
    emit commandDone();
}

Checkpoint EngineWorker::stateAt(int64_t step) const {
    if (!runner_) return {};
    try {
        return runner_->state_at(step);
    } catch (const std::exception&) {
        return {};
    }
}

}  // namespace stepscope::ui
