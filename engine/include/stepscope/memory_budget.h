// What a model and a run need in memory, estimated from the config before anything is allocated, and
// held to the one limit of memory_limit.h:
//
//   require_memory(estimate_model_bytes(config), "this model");   // throws Error: "refused: ..."
//
// Estimates are doubles: an absurd config gives a large finite number, never an overflow.
#pragma once

#include <cstdint>
#include <string>

#include "stepscope/config.h"
#include "stepscope/memory_limit.h"

namespace stepscope {

// The model as the engine holds it while it is built and after: each weight once, in its packed
// panels (bfloat16 and q8 keep the float32 originals beside theirs), the tensors of the layers
// being built (one per oneTBB worker, and a copy on the way into the panels), per-layer objects.
// Within 25% above the peak resident memory a build adds (test_builder measures it).
double estimate_model_bytes(const ModelConfig& config);

// What a run holds besides the model.
struct RunShape {
    int64_t batch = 1;          // N
    int64_t steps = 0;          // T: full self attention caches every step
    int64_t memory_length = 0;  // S, decoders
    int state_copies = 1;       // the live state plus copies the caller makes of it (checkpoints, snapshots)
    double kept_bytes = 0;      // what the caller keeps besides: inputs, outputs, checkpoints, traces
};

// The state after `steps` steps: linear sums, feature-map draws, memories, and full attention's
// caches at the capacity their geometric doubling reaches (with the buffer they grew from).
double estimate_state_bytes(const ModelConfig& config, const RunShape& run);
// The attention state one sequence holds after `steps` steps, as used rather than as allocated:
// per self-attention layer, a fixed S and Z for the kinds that keep sums, or the `steps` keys and
// values of a cache (not the capacity it doubled to). Encoders; what `eval` reports per K.
double sequence_state_bytes(const ModelConfig& config, int64_t steps);
// The state times its copies, a step's scratch for the batch, and the caller's kept bytes.
double estimate_run_bytes(const ModelConfig& config, const RunShape& run);

// Multiply-adds of stepping `batch` sequences `steps` steps from an empty state: every weight once
// per step and sequence, and a growing cache's reads (full attention reads each earlier step's keys
// and values: steps^2 / 2 of them per head and layer). Decoders add their memory's reads.
double estimate_step_work(const ModelConfig& config, const RunShape& run);
// The model check every caller makes before building one: validate(), then the estimate.
void require_model_fits(const ModelConfig& config);

}  // namespace stepscope
