// Lookups over run records; every number in them comes from the engine.
#include "session/insight_records.h"

namespace stepscope::ui {

const CapacityRecord* capacity_of(const StepRecord& record, int layer, AttentionRole role) {
    for (const CapacityRecord& c : record.capacity)
        if (c.layer == layer && c.role == role) return &c;
    return nullptr;
}

std::optional<int64_t> first_divergence(const TraceStore& run, float threshold) {
    for (const StepRecord& r : run.records())
        if (!r.divergence.empty() && r.divergence.back() > threshold) return r.step;
    return std::nullopt;
}

}  // namespace stepscope::ui
