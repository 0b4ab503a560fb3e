// Reading the records of observed layers and of branches: capacity lookups and where a branch diverges.
#pragma once

#include <cstdint>
#include <optional>

#include "session/trace_store.h"

namespace stepscope::ui {

// Outputs closer than this count as the same: a branch diverges at the first step beyond it.
constexpr float kDivergenceThreshold = 1e-6f;

// The capacity `record` holds for `layer`'s `role` attention, or null when that layer was not observed.
const CapacityRecord* capacity_of(const StepRecord& record, int layer, AttentionRole role);

// ||y_a - y_b|| of two runs' records at one step (any two runs, of one model or two of one width);
// none when their outputs have different widths.
std::optional<double> output_distance(const StepRecord& a, const StepRecord& b);

// The first step of a branch whose output differs from its original's by more than the threshold.
std::optional<int64_t> first_divergence(const TraceStore& run, float threshold = kDivergenceThreshold);

}  // namespace stepscope::ui
