// Fuzz target: a session with token input and interventions opened and stepped, as the explorer and
// `export --session` do. "@MODEL@" in the input stands for a small recall model the target writes.
#include <QString>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "scratch_file.h"
#include "session/session.h"
#include "session/session_spec.h"
#include "stepscope/error.h"
#include "stepscope/model.h"
#include "stepscope/safetensors.h"

namespace {

// A recall model of 2 layers, d_model 4: 4 keys, 4 values, NULL, and 2 queries per instance.
std::string write_model(stepscope::fuzz::ScratchFile& scratch) {
    stepscope::ModelConfig config;
    config.attention_type = "full";
    config.n_layers = 2;
    config.n_heads = 2;
    config.query_dimensions = config.value_dimensions = 2;
    config.feed_forward_dimensions = 4;
    stepscope::SafetensorsFile file;
    file.tensors = stepscope::Model::create_random(config, 1)->tensors();
    std::vector<float> rows(9 * 4);
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = float(i % 7) / 7.0f;
    file.tensors["embedding.weight"] = stepscope::Tensor::f32({9, 4}, rows);
    file.tensors["readout.weight"] = stepscope::Tensor::f32({9, 4}, rows);
    file.metadata["config"] = stepscope::config_to_json(config);
    file.metadata["vocabulary"] = R"(["k0","k1","k2","k3","v0","v1","v2","v3","?"])";
    file.metadata["task"] =
        R"({"name": "recall", "keys": 4, "values": 4, "null": 8, "queries": 2, "metric": "accuracy"})";
    const std::string path = scratch.hold(nullptr, 0);
    stepscope::write_safetensors(path, file);
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const int limit = setenv("STEPSCOPE_MAX_MEMORY", "256M", 1);
    (void)limit;
    static stepscope::fuzz::ScratchFile model_file(".safetensors"), session_file(".json");
    static const std::string model = write_model(model_file);
    std::string text(reinterpret_cast<const char*>(data), size);
    for (size_t at = text.find("@MODEL@"); at != std::string::npos; at = text.find("@MODEL@", at + model.size()))
        text.replace(at, 7, model);
    try {
        stepscope::ui::SessionSpec spec = stepscope::ui::session_from_file(
            QString::fromStdString(session_file.hold(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
        spec.device = stepscope::Device::Cpu;
        auto session = stepscope::ui::Session::open(spec);
        for (int t = 0; t < 8; ++t) session->advance();
    } catch (const stepscope::Error&) {
    }
    return 0;
}
