// State snapshots: a State with its model config, step index and seeds in one safetensors file.
//
// Tensor names: `state.{layer}.0` and `state.{layer}.1` in the reference's
// shapes (S (N, H, D, M) and Z (N, H, D); or keys (N, H, T, D) and values
// (N, H, T, M)); decoders add `state.{layer}.cross.0/1`, the memory and its
// lengths; random feature maps add their `omega`. Other tensors and metadata
// keys are the caller's (the explorer stores `last_output` and its session)
// and are ignored on restore, so a snapshot stays readable by any caller.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "stepscope/model.h"
#include "stepscope/safetensors.h"
#include "stepscope/state.h"

namespace stepscope {

// What a snapshot carries besides the state tensors.
struct SnapshotInfo {
    std::map<std::string, std::string> extra;  // caller metadata (weights seed, input source, ...)
};

// The state's tensors under the snapshot names, in the reference's shapes.
TensorMap state_tensors(const Model& model, const State& state);

SafetensorsFile make_snapshot(const Model& model, const State& state, const SnapshotInfo& info = {});
void save_snapshot(const std::string& path, const Model& model, const State& state, const SnapshotInfo& info = {});

// Rebuilds the State for `model`. Throws Error, returning nothing, when the
// snapshot's config differs from the model's ("a state from another model"),
// a tensor is missing or has the wrong shape.
State restore_snapshot(const Model& model, const SafetensorsFile& file, SnapshotInfo* info = nullptr);
State load_snapshot(const std::string& path, const Model& model, SnapshotInfo* info = nullptr);

}  // namespace stepscope
