// Fuzz target: the safetensors parser turns any bytes into a file or a stepscope::Error.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "stepscope/error.h"
#include "stepscope/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const stepscope::SafetensorsFile file = stepscope::parse_safetensors(std::vector<uint8_t>(data, data + size));
        // What parses must serialise and parse back.
        stepscope::parse_safetensors(stepscope::serialize_safetensors(file));
    } catch (const stepscope::Error&) {
    }
    return 0;
}
