// A StepObserver that copies the engine's norms and softmax weights of every batch element into a
// BatchRecord, and what it looks inside of the observed element (implicit maps, state capacity).
#pragma once

#include <vector>

#include "session/step_record.h"
#include "stepscope/observer.h"

namespace stepscope::ui {

class StepProbe : public StepObserver {
public:
    // `record` receives one step's observations of the `batch` elements of a model of `layers`
    // layers, `observed` being the element looked inside.
    StepProbe(BatchRecord& record, int batch, int layers, int observed);

    void attention_weights(int layer, AttentionRole role, const ConstMatrixRef& weights) override;
    void state_norms(int layer, AttentionRole role, const StateNorms& norms) override;
    void attention_map(int layer, AttentionRole role, const AttentionMap& map) override;
    void state_capacity(int layer, AttentionRole role, const StateCapacity& capacity) override;
    void layer_output(int layer, const ConstMatrixRef& y) override;

    // Each layer's output row of the observed element, (E) per layer, when keep_layer_outputs().
    const std::vector<std::vector<float>>& layerOutputs() const { return layer_outputs_; }
    void keep_layer_outputs() { keep_layer_outputs_ = true; }

private:
    // The delta-rule family's beta, alpha and prediction errors of `layer`, size = N*H each, into record_.updates.
    void keep_updates(int layer, const StateNorms& norms, size_t size);

    BatchRecord& record_;
    bool keep_layer_outputs_ = false;
    std::vector<std::vector<float>> layer_outputs_;
};

}  // namespace stepscope::ui
