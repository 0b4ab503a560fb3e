// What a model and a run need in memory, estimated from the config before anything is allocated,
// and the one limit every command and the explorer hold them to.
//
//   require_memory(estimate_model_bytes(config), "this model");   // throws Error: "refused: ..."
//
// The limit is STEPSCOPE_MAX_MEMORY (bytes, or with a K, M, G or T suffix: 512M, 2G), else the
// memory the machine had available (MemAvailable) when the limit was first asked for.
// Estimates are doubles: an absurd config gives a large finite number, never an overflow.
#pragma once

#include <cstdint>
#include <string>

#include "stepscope/config.h"

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
// The most multiply-adds one command steps: 1e14, roughly 1.5 to 5 hours on two cores (the seed
// example's 100,000-step soak is 1.4e13). Beyond it a run is refused before it starts, as an absurd
// memory need is.
constexpr double kMaxStepWork = 1e14;
// Throws Error "refused: WHAT needs about 2.1e+15 multiply-adds, over Stepscope's limit of 1e+14
// (hours of stepping)" when `multiply_adds` exceeds kMaxStepWork.
void require_work(double multiply_adds, const std::string& what);

// A byte count such as "2G", "1.5G", "512M" or "1048576" (K, M, G, T are powers of 1024; a
// trailing B is allowed). Throws Error quoting the text for anything else, zero included.
uint64_t parse_byte_count(const std::string& text);
// STEPSCOPE_MAX_MEMORY, else the available memory. Throws Error when the variable is malformed.
uint64_t memory_limit();
// "6.4 GB", "12.0 MB", "3.1 TB": decimal units, as the refusals print them.
std::string byte_text(double bytes);

// Throws Error "refused: WHAT needs about 6.4 GB, over the memory limit of 2.0 GB
// (STEPSCOPE_MAX_MEMORY)" when `bytes` exceeds memory_limit().
void require_memory(double bytes, const std::string& what);
// The model check every caller makes before building one: validate(), then the estimate.
void require_model_fits(const ModelConfig& config);

}  // namespace stepscope
