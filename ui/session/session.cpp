// Stepping a model with observation and timing, rewinding through checkpoints, and snapshots with the session.
#include "session/session.h"

#include <QFileInfo>
#include <QJsonDocument>

#include <algorithm>
#include <chrono>
#include <limits>

#include "session/demo_models.h"
#include "session/file_kind.h"
#include "session/step_probe.h"
#include "stepscope/attention_kind.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"
#include "stepscope/snapshot.h"
#include "stepscope/token_tasks.h"

namespace stepscope::ui {

namespace {

SessionSpec with_model_config(SessionSpec spec, const Model& model) {
    spec.config = model.config();
    return spec;
}

float distance(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return std::numeric_limits<float>::quiet_NaN();
    return (Eigen::Map<const Eigen::VectorXf>(a.data(), long(a.size())) -
            Eigen::Map<const Eigen::VectorXf>(b.data(), long(b.size())))
        .norm();
}

// The output of batch element `n`, (E).
std::vector<float> output_row(const BatchRecord& record, int n) {
    const auto width = long(record.width());
    return std::vector<float>(record.outputs.begin() + n * width, record.outputs.begin() + (n + 1) * width);
}

// The predictions listed per step: enough to see what the model hesitates between.
constexpr int kTopPredictions = 5;

// The token head that token input needs: the weights file's.
std::shared_ptr<const TokenModel> token_head(const SessionSpec& spec) {
    if (spec.input.kind != InputKind::Tokens) return nullptr;
    if (spec.weights_path.isEmpty())
        throw Error("token input needs a model with a token head: open a demo model or load its weights");
    // The session's config must describe the file's model; its precisions apply to the file's weights.
    return TokenModel::load(spec.weights_path.toStdString(), &spec.config);
}

}  // namespace

std::shared_ptr<const Model> build_model(const SessionSpec& spec) {
    if (spec.input.kind == InputKind::Tokens) return token_head(spec)->shared_transformer();
    // Only a regular file's header is read here; the engine's reader refuses anything else.
    if (QFileInfo(spec.weights_path).isFile()) {
        bool tokens = false;
        try {
            tokens = is_token_model(safetensors_metadata(spec.weights_path));
        } catch (const std::exception&) {
            // A damaged header: the engine's reader below names what is wrong.
        }
        if (tokens)
            throw Error(spec.weights_path.toStdString() +
                        ": a model with a token head reads tokens: choose the token input");
    }
    if (!spec.weights_path.isEmpty()) return load_model(spec.weights_path.toStdString(), spec.config);
    require_model_fits(spec.config);
    return Model::create_random(spec.config, spec.weights_seed);
}

std::unique_ptr<Session> Session::open(const SessionSpec& spec) {
    QString part = spec.weights_path.isEmpty() ? QStringLiteral("model") : QStringLiteral("weights");
    try {
        // A random model's config and input are checked before it is built: refusing either costs no build.
        if (spec.weights_path.isEmpty() && spec.input.kind != InputKind::Tokens) {
            validate(spec.config);
            part = QStringLiteral("input");
            const InputSource probe(spec, spec.config);
            part = QStringLiteral("model");
        }
        auto model = build_model(spec);
        part = QStringLiteral("device");
        auto stepper = make_stepper(model, spec.device);
        part = QStringLiteral("input");
        auto session = std::make_unique<Session>(std::move(model), spec, std::move(stepper));
        if (!spec.snapshot_path.isEmpty()) {
            part = QStringLiteral("snapshot");
            session->restore(spec.snapshot_path);
        }
        return session;
    } catch (const Error& e) {
        throw OpenError(part, e.what(), e.parameter());
    } catch (const std::bad_alloc&) {
        throw OpenError(part, "out of memory");
    } catch (const std::exception& e) {
        throw OpenError(part, e.what());
    }
}

Session::Session(std::shared_ptr<const Model> model, const SessionSpec& spec, std::unique_ptr<Stepper> stepper)
    : model_(std::move(model)),
      spec_(with_model_config(spec, *model_)),
      input_(spec_, model_->config(), token_head(spec_)),
      checkpoints_(48, checkpoint_budget()) {
    spec_.batch = input_.batch();
    spec_.observed = std::clamp(spec_.observed, 0, spec_.batch - 1);
    spec_.snapshot_path.clear();
    stepper_ = stepper ? std::move(stepper) : make_stepper(model_, spec_.device);
    spec_.device = stepper_->device();
    stepper_->reset(spec_.sequence_seed);
    checkpoints_.reset({stepper_->state(), {}, {}});
    check_interventions(spec_.interventions);
    ablation_ = ablation_of(spec_.interventions);
    if (!spec_.interventions.empty()) {
        SessionSpec original = spec_;
        original.interventions.clear();
        original.device = Device::Cpu;
        original_ = std::make_unique<Session>(model_, original);
    }
}

SessionSpec Session::spec() const {
    SessionSpec out = spec_;
    out.steps = current_step() - base_step();
    return out;
}

RunInfo Session::info() const {
    RunInfo info;
    info.model = model_;
    info.label = run_label(model_->config());
    info.weights = spec_.weights_path.isEmpty() ? QStringLiteral("random weights, seed %1").arg(spec_.weights_seed)
                                                : QFileInfo(spec_.weights_path).fileName();
    info.batch = spec_.batch;
    info.base_step = base_step();
    info.sequence_seed = spec_.sequence_seed;
    info.observed = spec_.observed;
    info.tokens = input_.token_model();
    return info;
}

BatchRecord Session::advance() { return advance(nullptr); }

BatchRecord Session::advance(std::vector<std::vector<float>>* layer_outputs) {
    require_step_fits();
    if (original_) original_->require_step_fits();
    BatchRecord record;
    StepProbe probe(record, spec_.batch, model_->config().n_layers, spec_.observed);
    // A refused step leaves the state as it was, before this step's edits too.
    std::optional<State> unedited;
    if (edits_state_at(current_step())) {
        unedited = stepper_->state();
        State edited = *unedited;
        edit_state(edited, [this] { return original_->state(); });
        stepper_->set_state(std::move(edited));
    }
    RowMatrix y;
    std::chrono::steady_clock::time_point start, stop;
    std::vector<TokenStep> fed;
    try {
        next_input(current_step(), last_output_, last_tokens_, x_, fed);
        if (original_ || layer_outputs) probe.keep_layer_outputs();
        const StepOptions options{&probe, device() == Device::Cpu ? observation_.get() : nullptr,
                                  ablation_.empty() ? nullptr : &ablation_};
        // Timed as `stepscope bench` times a step, here with the observer the plots need.
        start = std::chrono::steady_clock::now();
        if (const Memory* memory = input_.memory()) stepper_->step(x_, *memory, y, options);
        else stepper_->step(x_, y, options);
        stop = std::chrono::steady_clock::now();
    } catch (...) {
        if (unedited) stepper_->set_state(std::move(*unedited));
        throw;
    }
    record.latency_ms = std::chrono::duration<double, std::milli>(stop - start).count();
    record.step = current_step();
    record.state_bytes = static_cast<int64_t>(stepper_->state_bytes());
    record.outputs.assign(y.data(), y.data() + y.size());
    record.output_norms.resize(size_t(y.rows()));
    Eigen::Map<Eigen::VectorXf>(record.output_norms.data(), y.rows()) = y.rowwise().norm();
    if (input_.token_model()) record_tokens(record, fed, y);
    if (original_) {
        std::vector<std::vector<float>> original_outputs;
        BatchRecord original = original_->advance(&original_outputs);
        for (size_t l = 0; l < probe.layerOutputs().size() && l < original_outputs.size(); ++l)
            record.divergence.push_back(distance(probe.layerOutputs()[l], original_outputs[l]));
        record.divergence.push_back(distance(output_row(record, spec_.observed), output_row(original, spec_.observed)));
        const auto observed = size_t(spec_.observed);
        if (observed < record.tokens.size() && observed < original.tokens.size())
            record.tokens[observed].target_change =
                record.tokens[observed].target_probability - original.tokens[observed].target_probability;
        record.original = std::make_shared<const BatchRecord>(std::move(original));
    }
    if (layer_outputs) *layer_outputs = probe.layerOutputs();
    last_output_ = std::move(y);
    last_tokens_ = std::move(fed);
    if (rewindable_ && checkpoints_.wants(current_step()))
        checkpoints_.offer({stepper_->state(), last_output_, last_tokens_});
    return record;
}

void Session::record_tokens(BatchRecord& record, const std::vector<TokenStep>& fed, const RowMatrix& y) const {
    const TokenModel& head = *input_.token_model();
    const int64_t t = current_step() - 1;
    RowMatrix logits;
    head.readout(y, logits);
    const RowMatrix p = TokenModel::probabilities(logits);
    for (int n = 0; n < spec_.batch; ++n) {
        TokenPrediction prediction;
        prediction.input = fed[size_t(n)];
        prediction.top = top_k(p.row(n), kTopPredictions);
        prediction.target = input_.target(t, n, prediction.input);
        prediction.generated = t >= input_.prompt_length(n);
        if (prediction.target >= 0) {
            prediction.target_probability = p(n, prediction.target);
            prediction.correct = prediction.top.front().token == prediction.target;
        }
        record.tokens.push_back(std::move(prediction));
    }
    if (!read_back_ || head.task_name() != "recall") return;
    std::vector<std::vector<std::pair<int64_t, int64_t>>> pairs;
    for (int n = 0; n < spec_.batch; ++n) pairs.push_back(input_.stored_pairs(current_step(), n));
    if (pairs[size_t(spec_.observed)].empty()) return;
    record.retrieval = read_back(head, stepper_->state(), pairs)[size_t(spec_.observed)];
}

// Full attention's cache doubles as it fills, and a checkpoint copies the state: the step is refused,
// the run unchanged, before the model, the state after it, the copies and the checkpoints pass the limit.
void Session::require_step_fits() const {
    const ModelConfig& config = model_->config();
    RunShape run;
    run.batch = spec_.batch;
    run.steps = current_step() + 1;
    if (const Memory* memory = input_.memory()) run.memory_length = memory->length;
    run.state_copies = 2;  // the live state and the checkpoint copied from it
    run.kept_bytes = double(checkpoints_.bytes()) + input_.bytes();
    try {
        require_memory(estimate_model_bytes(config) + estimate_run_bytes(config, run),
                       "step " + std::to_string(run.steps));
    } catch (const Error& e) {
        if (!state_grows(attention_capabilities(config.self_attention()))) throw;
        throw Error(std::string(e.what()) + "; Reset, or use linear attention, whose state does not grow");
    }
}

void Session::replay(Checkpoint& c, int64_t step, const CancelCheck& cancelled) const {
    while (c.state.step < step) {
        if (cancelled && cancelled()) throw RunCancelled{};
        step_on(c, nullptr, nullptr);
    }
}

Checkpoint Session::state_at(int64_t step, const CancelCheck& cancelled) const {
    if (step < base_step() || step > current_step())
        throw Error("step " + std::to_string(step) + " is outside the run (" + std::to_string(base_step()) + " to " +
                    std::to_string(current_step()) + ")");
    if (step == current_step()) return {stepper_->state(), last_output_, last_tokens_};
    Checkpoint c = checkpoints_.nearest(step);
    replay(c, step, cancelled);
    return c;
}

void Session::rewind(int64_t step, const CancelCheck& cancelled) {
    Checkpoint c = state_at(step, cancelled);
    if (original_) original_->rewind(step, cancelled);
    stepper_->set_state(std::move(c.state));
    checkpoints_.drop_after(step);
    last_output_ = std::move(c.last_output);
    last_tokens_ = std::move(c.last_tokens);
}

void Session::fast_forward(int64_t step, const CancelCheck& cancelled) {
    if (step <= current_step()) return;
    if (original_) original_->fast_forward(step, cancelled);
    Checkpoint c{stepper_->state(), last_output_, last_tokens_};
    // Replayed a checkpoint interval at a time, so that a later rewind finds them.
    while (c.state.step < step) {
        const int64_t next = std::min(step, c.state.step + checkpoints_.interval());
        replay(c, next, cancelled);
        if (rewindable_) checkpoints_.offer(c);
    }
    stepper_->set_state(c.state);
    last_output_ = std::move(c.last_output);
    last_tokens_ = std::move(c.last_tokens);
}

void Session::replace_interventions_from(int64_t step, const std::vector<Intervention>& later) {
    for (const Intervention& i : later) check_intervention(i, std::max(i.step, step));
    std::vector<Intervention> kept;
    for (const Intervention& i : spec_.interventions)
        if (i.step < step) kept.push_back(i);
    for (Intervention i : later) {
        i.step = std::max(i.step, step);
        kept.push_back(i);
    }
    if (kept.empty()) original_.reset();
    else if (!original_) original_ = without_interventions();
    spec_.interventions = std::move(kept);
    ablation_ = ablation_of(spec_.interventions);
}

void Session::set_rewindable(bool rewindable) {
    rewindable_ = rewindable;
    if (original_) original_->set_rewindable(rewindable);
}

void Session::set_observed(int element) {
    spec_.observed = std::clamp(element, 0, spec_.batch - 1);
    if (observation_) set_observation(observation_->options());
    if (original_) original_->set_observed(element);
}

void Session::set_observation(const ObservationOptions& what) {
    read_back_ = what.read_back;
    if (what.layers.empty() || (!what.attention && !what.spectrum)) {
        observation_.reset();
        return;
    }
    ObservationOptions options = what;
    options.batch_element = spec_.observed;
    observation_ = std::make_unique<Observation>(options);
}

void Session::check_interventions(const std::vector<Intervention>& interventions) const {
    State scratch = model_->new_state();
    for (const Intervention& i : interventions) {
        try {
            switch (i.kind) {
                case InterventionKind::AblateHead: check_ablation(*model_, ablation_of({i})); break;
                case InterventionKind::ScaleHead: scale_head(*model_, scratch, i.layer, i.role, i.head, 1.0f); break;
                case InterventionKind::ClearLayer: clear_layer_state(*model_, scratch, i.layer); break;
                case InterventionKind::ClearHeadCache:
                    clear_head_cache(*model_, scratch, i.layer, i.role, i.head);
                    break;
                case InterventionKind::CopyFromOriginal:
                    if (i.layer < 0 || i.layer >= model_->config().n_layers)
                        throw Error("layer " + std::to_string(i.layer) + " is outside 0.." +
                                    std::to_string(model_->config().n_layers - 1));
                    break;
                case InterventionKind::EditToken:
                    if (i.element < 0 || i.element >= spec_.batch)
                        throw Error("batch element " + std::to_string(i.element) + " is outside 0.." +
                                    std::to_string(spec_.batch - 1));
                    edited_token(i);
                    break;
                case InterventionKind::EditInput:
                    if (input_.token_model()) throw Error("a token run's input is edited as a token");
                    if (i.element < 0 || i.element >= spec_.batch)
                        throw Error("batch element " + std::to_string(i.element) + " is outside 0.." +
                                    std::to_string(spec_.batch - 1));
                    if (i.index < 0 || i.index >= model_->config().d_model())
                        throw Error("input component " + std::to_string(i.index) + " is outside 0.." +
                                    std::to_string(model_->config().d_model() - 1));
                    break;
            }
        } catch (const Error& e) {
            // describe() quotes the one text from the file, an edit's tokens.
            throw Error("intervention '" + describe(i).toStdString() + "': " + e.what());
        }
    }
}

bool Session::edits_state_at(int64_t step) const {
    return std::any_of(spec_.interventions.begin(), spec_.interventions.end(), [step](const Intervention& i) {
        return i.step == step &&
               (i.kind == InterventionKind::ScaleHead || i.kind == InterventionKind::ClearLayer ||
                i.kind == InterventionKind::ClearHeadCache || i.kind == InterventionKind::CopyFromOriginal);
    });
}

void Session::edit_state(State& state, const std::function<State()>& original) const {
    for (const Intervention& i : spec_.interventions) {
        if (i.step != state.step) continue;
        if (i.kind == InterventionKind::ScaleHead) scale_head(*model_, state, i.layer, i.role, i.head, float(i.factor));
        else if (i.kind == InterventionKind::ClearLayer) clear_layer_state(*model_, state, i.layer);
        else if (i.kind == InterventionKind::ClearHeadCache) clear_head_cache(*model_, state, i.layer, i.role, i.head);
        else if (i.kind == InterventionKind::CopyFromOriginal) copy_layer_state(*model_, state, original(), i.layer);
    }
}

void Session::next_input(int64_t step, const RowMatrix& previous_output, const std::vector<TokenStep>& previous,
                         RowMatrix& x, std::vector<TokenStep>& fed) const {
    const auto& head = input_.token_model();
    if (!head) {
        input_.input(step, previous_output, x);
        edit_input(step, x);
        return;
    }
    fed = input_.tokens(step, previous_output);
    for (const Intervention& i : spec_.interventions)
        if (i.kind == InterventionKind::EditToken && i.step == step) fed[size_t(i.element)] = edited_token(i);
    head->embed(fed, step, x, &previous);
}

TokenStep Session::edited_token(const Intervention& intervention) const {
    const auto& head = input_.token_model();
    if (!head) throw Error("editing a token needs token input");
    const auto steps = head->tokenize(intervention.tokens.toStdString());
    if (steps.size() != 1)
        throw Error(quote_text(intervention.tokens.toStdString()) + " is " + std::to_string(steps.size()) +
                    " steps, not one");
    return steps.front();
}

void Session::edit_input(int64_t step, RowMatrix& x) const {
    for (const Intervention& i : spec_.interventions)
        if (i.kind == InterventionKind::EditInput && i.step == step) x(i.element, i.index) = float(i.value);
}

std::unique_ptr<Session> Session::without_interventions() const {
    SessionSpec spec = spec_;
    spec.interventions.clear();
    spec.device = Device::Cpu;
    auto original = std::make_unique<Session>(model_, spec, make_stepper(model_, Device::Cpu));
    original->stepper_->set_state(stepper_->state());
    original->last_output_ = last_output_;
    original->last_tokens_ = last_tokens_;
    original->checkpoints_ = checkpoints_;
    original->rewindable_ = rewindable_;
    return original;
}

void Session::check_intervention(const Intervention& intervention, int64_t at) const {
    // A refusal names the step the intervention would apply at, not the 0 it holds until applied.
    Intervention placed = intervention;
    placed.step = at;
    check_interventions({placed});
    if (intervention.kind == InterventionKind::CopyFromOriginal && at == 0)
        throw Error("copying a layer's state from the original needs a step taken first");
}

void Session::intervene(Intervention intervention) {
    intervention.step = current_step();
    check_intervention(intervention, current_step());
    if (!original_) original_ = without_interventions();
    spec_.interventions.push_back(intervention);
    ablation_ = ablation_of(spec_.interventions);
}

void Session::restore(const QString& path) {
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
    std::vector<TokenStep> last_tokens;
    if (const auto found = file.tensors.find(kLastTokensTensor); found != file.tensors.end()) {
        const Tensor& t = found->second;
        if (t.dtype != DType::I64 || t.shape.size() != 2 || t.shape[0] != spec_.batch || t.shape[1] < 1)
            throw Error(path.toStdString() + ": tensor 'last_tokens' has shape " + t.shape_string() +
                        ", which does not fit the run");
        for (int64_t n = 0; n < t.shape[0]; ++n)
            last_tokens.emplace_back(t.integers.begin() + n * t.shape[1], t.integers.begin() + (n + 1) * t.shape[1]);
    }
    if (original_) original_->restore(path);
    stepper_->set_state(state);
    spec_.sequence_seed = state.sequence_seed;
    spec_.snapshot_path = path;
    last_output_ = last_output;
    last_tokens_ = last_tokens;
    checkpoints_.reset({std::move(state), std::move(last_output), std::move(last_tokens)});
}

void Session::save_snapshot(const QString& path, int64_t step, const CancelCheck& cancelled) const {
    const Checkpoint c = state_at(step, cancelled);
    SessionSpec session = spec();
    session.steps = 0;
    session.snapshot_path.clear();
    SnapshotInfo info;
    info.extra[kSessionMetadata] = QJsonDocument(session_to_json(session)).toJson(QJsonDocument::Compact).toStdString();
    info.extra["weights"] =
        spec_.weights_path.isEmpty() ? "seed " + std::to_string(spec_.weights_seed) : spec_.weights_path.toStdString();
    info.extra["input_source"] = input_kind_name(spec_.input.kind).toStdString();
    info.extra["input_seed"] = std::to_string(spec_.input.seed);
    SafetensorsFile file = make_snapshot(*model_, c.state, info);
    if (c.last_output.size())
        file.tensors[kLastOutputTensor] =
            Tensor::f32({c.last_output.rows(), c.last_output.cols()},
                        std::vector<float>(c.last_output.data(), c.last_output.data() + c.last_output.size()));
    // A token shift embeds the previous step's tokens: kept when every sequence fed as many.
    const size_t width = c.last_tokens.empty() ? 0 : c.last_tokens.front().size();
    if (width && std::all_of(c.last_tokens.begin(), c.last_tokens.end(),
                             [&](const TokenStep& tokens) { return tokens.size() == width; })) {
        std::vector<int64_t> ids;
        for (const TokenStep& tokens : c.last_tokens) ids.insert(ids.end(), tokens.begin(), tokens.end());
        file.tensors[kLastTokensTensor] = Tensor::i64({int64_t(c.last_tokens.size()), int64_t(width)}, std::move(ids));
    }
    write_safetensors(path.toStdString(), file);
}

}  // namespace stepscope::ui
