// Fuzz target: a state snapshot (bf16 caches, cleared heads' `starts`, decoders' memories) restored
// into small models of each attention kind, then stepped once, as `Open snapshot` does.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "stepscope/error.h"
#include "stepscope/model.h"
#include "stepscope/safetensors.h"
#include "stepscope/snapshot.h"

namespace {

std::vector<std::shared_ptr<const stepscope::Model>> models() {
    std::vector<std::shared_ptr<const stepscope::Model>> out;
    for (const char* attention : {"full", "linear"}) {
        for (const char* cache : {"f32", "bf16"}) {
            stepscope::ModelConfig config;
            config.attention_type = attention;
            config.cache_precision = cache;
            config.n_layers = 2;
            config.n_heads = 2;
            config.query_dimensions = config.value_dimensions = 2;
            config.feed_forward_dimensions = 4;
            out.push_back(stepscope::Model::create_random(config, 1));
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto kinds = models();
    stepscope::SafetensorsFile file;
    try {
        file = stepscope::parse_safetensors(std::vector<uint8_t>(data, data + size));
    } catch (const stepscope::Error&) {
        return 0;
    }
    for (const auto& model : kinds) {
        try {
            stepscope::State state = stepscope::restore_snapshot(*model, file);
            // A restored state steps on, to finite outputs.
            const int batch = state.step > 0 ? state.batch : 1;
            if (batch > 64) continue;
            stepscope::RowMatrix x = stepscope::RowMatrix::Constant(batch, model->config().d_model(), 0.5f), y;
            model->step(x, state, y);
            if (!y.allFinite()) __builtin_trap();
        } catch (const stepscope::Error&) {
        }
    }
    return 0;
}
