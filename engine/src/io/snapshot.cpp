// Snapshots: a State as reference-shaped tensors plus metadata, and back, checked against the model.
#include "stepscope/snapshot.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "layers/attention_layer.h"
#include "io/snapshot_tensors.h"
#include "stepscope/error.h"

namespace stepscope {

namespace {

constexpr const char* kFormat = "stepscope-state-1";

using snapshot::matrix;
using snapshot::require;
using snapshot::require_shape;
using snapshot::tensor_of;

// A module's tensors are named "state.{i}" (self attention) or "state.{i}.cross".
std::string tensor_prefix(const AttentionModule& module) {
    return "state." + std::to_string(module.layer) + (module.role == AttentionRole::Cross ? ".cross" : "");
}

void put_state(TensorMap& out, const AttentionModule& module, const AttentionState& s, int batch) {
    const std::string name = tensor_prefix(module);
    module.inner->kind().put_tensors(*module.inner, s, batch, name, out);
    if (s.omega.size()) out[name + ".omega"] = tensor_of(s.omega, {s.omega.rows(), s.omega.cols()});
    if (s.memory.size()) {
        const int length = static_cast<int>(s.memory.rows() / batch);
        out[name + ".memory"] = tensor_of(s.memory, {batch, length, s.memory.cols()});
        out[name + ".memory_lengths"] =
            Tensor::i64({batch}, std::vector<int64_t>(s.memory_lengths.begin(), s.memory_lengths.end()));
    }
}

void get_state(const SafetensorsFile& file, const AttentionModule& module, AttentionState& s, int batch) {
    const std::string name = tensor_prefix(module);
    s.started = true;
    module.inner->kind().get_tensors(*module.inner, file.tensors, name, batch, s);
    if (module.role != AttentionRole::Cross) return;
    const Tensor& memory = require_shape(file.tensors, name + ".memory", 3, {batch});
    const Tensor& lengths = require(file.tensors, name + ".memory_lengths");
    if (lengths.dtype != DType::I64 || lengths.shape != std::vector<int64_t>{batch})
        throw Error("snapshot tensor '" + name + ".memory_lengths' must be I64 of shape (" + std::to_string(batch) +
                    ")");
    s.memory = matrix(memory, long(batch) * memory.shape[1]);
    s.memory_lengths.assign(lengths.integers.begin(), lengths.integers.end());
}

// The largest step a snapshot may claim: sessions keep steps as JSON numbers, exact up to 2^53,
// and every step count after it (+1, differences) stays far from int64's end.
constexpr int64_t kMaxSnapshotStep = int64_t(1) << 53;
// The largest magnitude a state value may have: far past what a run's sums reach (unit-size values summed
// over a billion steps), and small enough that a step's dot products and LayerNorm's squares stay finite.
constexpr float kMaxStateMagnitude = 1e15f;

int64_t metadata_integer(const SafetensorsFile& file, const std::string& key, int64_t maximum) {
    const auto found = file.metadata.find(key);
    if (found == file.metadata.end()) throw Error("snapshot metadata has no '" + key + "'");
    const std::string& text = found->second;
    const bool digits = !text.empty() && text.size() <= 19 && text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) throw Error("snapshot metadata '" + key + "' is not a non-negative integer: " + quote_text(text));
    const unsigned long long value = std::stoull(text);
    if (value > uint64_t(maximum))
        throw Error("snapshot metadata '" + key + "' is " + text + ", above the largest possible, " +
                    std::to_string(maximum));
    return int64_t(value);
}

}  // namespace

TensorMap state_tensors(const Model& model, const State& state) {
    TensorMap out;
    if (state.empty()) return out;
    for (const AttentionModule& module : model.attention_modules())
        put_state(out, module, module.state(state), state.batch);
    return out;
}

SafetensorsFile make_snapshot(const Model& model, const State& state, const SnapshotInfo& info) {
    SafetensorsFile file;
    file.tensors = state_tensors(model, state);
    file.metadata = info.extra;
    file.metadata["format"] = kFormat;
    file.metadata["config"] = config_to_json(model.config());
    file.metadata["step"] = std::to_string(state.step);
    file.metadata["batch"] = std::to_string(state.batch);
    file.metadata["sequence_seed"] = std::to_string(state.sequence_seed);
    return file;
}

void save_snapshot(const std::string& path, const Model& model, const State& state, const SnapshotInfo& info) {
    write_safetensors(path, make_snapshot(model, state, info));
}

State restore_snapshot(const Model& model, const SafetensorsFile& file, SnapshotInfo* info) {
    const auto format = file.metadata.find("format");
    if (format == file.metadata.end() || format->second != kFormat)
        throw Error("not a Stepscope state snapshot (metadata 'format' is not " + std::string(kFormat) + ")");
    const auto config = file.metadata.find("config");
    if (config == file.metadata.end()) throw Error("snapshot metadata has no 'config'");
    if (config_from_json(config->second) != model.config())
        throw Error("the snapshot's state belongs to another model (its config differs from the loaded model's)");
    const auto seed = metadata_integer(file, "sequence_seed", std::numeric_limits<int64_t>::max());
    const auto step = metadata_integer(file, "step", kMaxSnapshotStep);
    const auto batch = metadata_integer(file, "batch", std::numeric_limits<int>::max());
    State state = model.new_state(static_cast<uint64_t>(seed));
    state.step = step;
    state.batch = static_cast<int>(batch);
    if (state.step > 0) {
        if (state.batch <= 0) throw Error("snapshot metadata 'batch' must be positive for a started sequence");
        for (const AttentionModule& module : model.attention_modules())
            get_state(file, module, module.state(state), state.batch);
        // Tensors of the right rank can still disagree with each other (a cache shorter than its memory,
        // a length past the memory): the model's own check refuses what it could not step.
        model.check_state(state);
        // A self-attention cache holds one key and value per step taken: its length is the step.
        for (const AttentionModule& module : model.attention_modules()) {
            if (module.role != AttentionRole::Self) continue;
            const KeyValueCache* cache = module.state(state).find<KeyValueCache>();
            if (cache && cache->length != state.step)
                throw Error("snapshot cache '" + tensor_prefix(module) + "' holds " + std::to_string(cache->length) +
                            " steps, but the snapshot's metadata says step " + std::to_string(state.step));
        }
    }
    // Every state tensor belongs to a module of the model, and holds finite numbers of a size a step can
    // use: a state with an infinity or a NaN would only spread it, and one near the float range would
    // overflow into one at the next step.
    std::set<std::string> known;
    for (const AttentionModule& module : model.attention_modules())
        for (const char* suffix : {".0", ".1", ".starts", ".omega", ".memory", ".memory_lengths"})
            known.insert(tensor_prefix(module) + suffix);
    for (const auto& [name, tensor] : file.tensors) {
        if (name.rfind("state.", 0) != 0) continue;
        if (!known.count(name))
            throw Error("snapshot tensor " + quote_text(name) + " belongs to no attention module of the model (" +
                        std::to_string(model.config().n_layers) + " layers)");
        if (state.step == 0) continue;
        for (const float value : tensor.values) {
            if (!std::isfinite(value))
                throw Error("snapshot tensor " + quote_text(name) +
                            " holds a value that is not finite (NaN or infinity)");
            if (std::abs(value) > kMaxStateMagnitude) {
                char figures[96];
                std::snprintf(figures, sizeof figures, " holds a value of magnitude %.2g, beyond %.0e", std::abs(value),
                              double(kMaxStateMagnitude));
                throw Error("snapshot tensor " + quote_text(name) + figures + ": stepping on would overflow");
            }
        }
    }
    if (info) {
        info->extra = file.metadata;
        for (const char* key : {"format", "config", "step", "batch", "sequence_seed"}) info->extra.erase(key);
    }
    return state;
}

State load_snapshot(const std::string& path, const Model& model, SnapshotInfo* info) {
    try {
        return restore_snapshot(model, read_safetensors(path), info);
    } catch (const Error& e) {
        const std::string message = e.what();
        throw Error(message.rfind(path, 0) == 0 ? message : path + ": " + message);
    }
}

}  // namespace stepscope
