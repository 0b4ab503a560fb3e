// Lookups over run records; every number in them comes from the engine.
#include "session/insight_records.h"

#include <cmath>

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

namespace stepscope::ui {

std::optional<double> output_distance(const StepRecord& a, const StepRecord& b) {
    if (a.output.size() != b.output.size() || a.output.empty()) return std::nullopt;
    double sum = 0;
    for (size_t i = 0; i < a.output.size(); ++i) {
        const double d = double(a.output[i]) - double(b.output[i]);
        sum += d * d;
    }
    return std::sqrt(sum);
}

}  // namespace stepscope::ui
