// Fuzz target: a token model file (vocabulary, task metadata, evaluation set) loaded, evaluated and,
// for recall, a task instance drawn, as `stepscope eval`, `generate` and the explorer do.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "stepscope/error.h"
#include "stepscope/safetensors.h"
#include "stepscope/token_model.h"
#include "stepscope/token_tasks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // The limit every command holds a file to, small enough that the fuzzer's 2 GB is never near.
    static const int limit = setenv("STEPSCOPE_MAX_MEMORY", "256M", 1);
    (void)limit;
    try {
        const stepscope::SafetensorsFile file = stepscope::parse_safetensors(std::vector<uint8_t>(data, data + size));
        const auto model = stepscope::TokenModel::from_file(file);
        try {
            const stepscope::Evaluation result = stepscope::evaluate_stored(*model);
            if (result.scored < 1 || result.groups.empty()) __builtin_trap();
        } catch (const stepscope::Error&) {
        }
        if (model->task_name() == "recall") {
            // A refusal is fine; an instance must be what the layout says.
            const stepscope::TaskInstance instance = stepscope::draw_recall_instance(*model, 1, 7);
            if (instance.steps.size() != instance.targets.size()) __builtin_trap();
            for (const auto& step : instance.steps)
                for (const int64_t id : step)
                    if (id < 0 || id >= model->vocabulary_size()) __builtin_trap();
        }
    } catch (const stepscope::Error&) {
    }
    return 0;
}
