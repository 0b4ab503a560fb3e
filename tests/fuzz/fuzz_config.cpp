// Fuzz target: a builder config in JSON is a validated ModelConfig or a stepscope::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "stepscope/config.h"
#include "stepscope/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const stepscope::ModelConfig config =
            stepscope::config_from_json(std::string(reinterpret_cast<const char*>(data), size));
        // An accepted config reads back as itself, and the widths the engine sizes buffers from are representable.
        if (stepscope::config_from_json(stepscope::config_to_json(config)) != config) __builtin_trap();
        if (config.d_model() <= 0 || config.effective_cross_model_dimensions() <= 0) __builtin_trap();
    } catch (const stepscope::Error&) {
    }
    return 0;
}
