// Stepping a model with observation and timing, rewinding through checkpoints, and snapshots with the session.
#include "runner.h"

#include <QFileInfo>
#include <QJsonDocument>

#include <algorithm>
#include <chrono>

#include "step_probe.h"
#include "stepscope/error.h"
#include "stepscope/snapshot.h"

namespace stepscope::ui {

namespace {

SessionSpec with_model_config(SessionSpec spec, const Model& model) {
    spec.config = model.config();
    return spec;
}

}  // namespace

std::shared_ptr<const Model> build_model(const SessionSpec& spec) {
    if (!spec.weights_path.isEmpty()) return load_model(spec.weights_path.toStdString());
    validate(spec.config);
    require_weights_fit(spec.config);
    return Model::create_random(spec.config, spec.weights_seed);
}

std::unique_ptr<Runner> Runner::open(const SessionSpec& spec) {
    auto runner = std::make_unique<Runner>(build_model(spec), spec);
    if (!spec.snapshot_path.isEmpty()) runner->restore(spec.snapshot_path);
    return runner;
}

Runner::Runner(std::shared_ptr<const Model> model, const SessionSpec& spec, std::unique_ptr<Stepper> stepper)
    : model_(std::move(model)),
      spec_(with_model_config(spec, *model_)),
      input_(spec_, model_->config()) {
    spec_.batch = input_.batch();
    spec_.observed = std::clamp(spec_.observed, 0, spec_.batch - 1);
    spec_.snapshot_path.clear();
    stepper_ = stepper ? std::move(stepper) : make_stepper(model_, spec_.device);
    spec_.device = stepper_->device();
    stepper_->reset(spec_.sequence_seed);
    checkpoints_.reset({stepper_->state(), {}});
}

SessionSpec Runner::spec() const {
    SessionSpec out = spec_;
    out.steps = step() - base_step();
    return out;
}

RunInfo Runner::info() const {
    RunInfo info;
    info.model = model_;
    info.label = run_label(model_->config());
    info.weights = spec_.weights_path.isEmpty() ? QStringLiteral("random weights, seed %1").arg(spec_.weights_seed)
                                                : QFileInfo(spec_.weights_path).fileName();
    info.batch = spec_.batch;
    info.base_step = base_step();
    info.sequence_seed = spec_.sequence_seed;
    info.observed = spec_.observed;
    return info;
}

StepRecord Runner::advance() {
    // Full attention's cache grows every step; stop before it takes the machine's memory.
    if (stepper_->state_bytes() > kMaxStateBytes)
        throw Error(QStringLiteral("the state holds %1 GB, Stepscope's limit; Reset, or use linear attention "
                                   "whose state does not grow")
                        .arg(double(stepper_->state_bytes()) / 1e9, 0, 'f', 1)
                        .toStdString());
    StepRecord record;
    StepProbe probe(record, spec_.observed, spec_.batch, model_->config().n_layers);
    input_.input(step(), last_output_, x_);
    RowMatrix y;
    // Timed as `stepscope bench` times a step, here with the observer the plots need.
    const auto start = std::chrono::steady_clock::now();
    if (const Memory* memory = input_.memory()) stepper_->step(x_, *memory, y, &probe);
    else stepper_->step(x_, y, &probe);
    const auto stop = std::chrono::steady_clock::now();
    record.latency_ms = std::chrono::duration<double, std::milli>(stop - start).count();
    record.step = step();
    record.state_bytes = static_cast<int64_t>(stepper_->state_bytes());
    const auto observed = y.row(spec_.observed);
    record.output.assign(observed.data(), observed.data() + observed.size());
    record.output_norm = observed.norm();
    last_output_ = std::move(y);
    if (checkpoints_.wants(step())) checkpoints_.offer({stepper_->state(), last_output_});
    return record;
}

void Runner::replay(Checkpoint& c, int64_t step, const CancelCheck& cancelled) const {
    RowMatrix x;
    while (c.state.step < step) {
        if (cancelled && cancelled()) throw RunCancelled{};
        input_.input(c.state.step, c.last_output, x);
        RowMatrix y;
        if (const Memory* memory = input_.memory()) model_->step(x, *memory, c.state, y);
        else model_->step(x, c.state, y);
        c.last_output = std::move(y);
    }
}

Checkpoint Runner::state_at(int64_t step, const CancelCheck& cancelled) const {
    if (step < base_step() || step > this->step())
        throw Error("step " + std::to_string(step) + " is outside the run (" + std::to_string(base_step()) + " to " +
                    std::to_string(this->step()) + ")");
    if (step == this->step()) return {stepper_->state(), last_output_};
    Checkpoint c = checkpoints_.nearest(step);
    replay(c, step, cancelled);
    return c;
}

void Runner::rewind(int64_t step, const CancelCheck& cancelled) {
    Checkpoint c = state_at(step, cancelled);
    stepper_->set_state(std::move(c.state));
    checkpoints_.drop_after(step);
    last_output_ = std::move(c.last_output);
}

void Runner::reset(uint64_t sequence_seed) {
    stepper_->reset(sequence_seed);
    spec_.sequence_seed = sequence_seed;
    spec_.snapshot_path.clear();
    last_output_ = RowMatrix();
    checkpoints_.reset({stepper_->state(), {}});
}

void Runner::set_observed(int element) { spec_.observed = std::clamp(element, 0, spec_.batch - 1); }

void Runner::restore(const QString& path) {
    const SafetensorsFile file = read_safetensors(path.toStdString());
    SnapshotInfo info;
    State state;
    try {
        state = restore_snapshot(*model_, file, &info);
    } catch (const Error& e) {
        throw Error(path.toStdString() + ": " + e.what());
    }
    if (state.sequence_seed > kMaxSeed)
        throw Error(QStringLiteral("%1: the snapshot's sequence seed %2 is above %3, the largest the explorer keeps")
                        .arg(path)
                        .arg(state.sequence_seed)
                        .arg(kMaxSeed)
                        .toStdString());
    if (state.step > 0 && state.batch != spec_.batch)
        throw Error(QStringLiteral("%1: the snapshot holds %2 sequences, the input %3")
                        .arg(path)
                        .arg(state.batch)
                        .arg(spec_.batch)
                        .toStdString());
    RowMatrix last_output;
    if (const auto found = file.tensors.find(kLastOutputTensor); found != file.tensors.end()) {
        const Tensor& t = found->second;
        if (t.dtype == DType::I64 || t.shape != std::vector<int64_t>{spec_.batch, model_->config().d_model()})
            throw Error(path.toStdString() + ": tensor 'last_output' has shape " + t.shape_string() +
                        ", which does not fit the run");
        last_output = Eigen::Map<const RowMatrix>(t.values.data(), t.shape[0], t.shape[1]);
    }
    stepper_->set_state(state);
    spec_.sequence_seed = state.sequence_seed;
    spec_.snapshot_path = path;
    last_output_ = last_output;
    checkpoints_.reset({std::move(state), std::move(last_output)});
}

void Runner::save_snapshot(const QString& path, int64_t step, const CancelCheck& cancelled) const {
    const Checkpoint c = state_at(step, cancelled);
    SessionSpec session = spec();
    session.steps = 0;
    session.snapshot_path.clear();
    SnapshotInfo info;
    info.extra[kSessionMetadata] = QJsonDocument(session_to_json(session)).toJson(QJsonDocument::Compact).toStdString();
    info.extra["weights"] = spec_.weights_path.isEmpty() ? "seed " + std::to_string(spec_.weights_seed)
                                                         : spec_.weights_path.toStdString();
    info.extra["input_source"] = input_kind_name(spec_.input.kind).toStdString();
    info.extra["input_seed"] = std::to_string(spec_.input.seed);
    SafetensorsFile file = make_snapshot(*model_, c.state, info);
    if (c.last_output.size())
        file.tensors[kLastOutputTensor] =
            Tensor::f32({c.last_output.rows(), c.last_output.cols()},
                        std::vector<float>(c.last_output.data(), c.last_output.data() + c.last_output.size()));
    write_safetensors(path.toStdString(), file);
}

}  // namespace stepscope::ui
