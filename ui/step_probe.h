// A StepObserver that copies the observed batch element's norms, attention weights and state capacity into a StepRecord.
#pragma once

#include <vector>

#include "step_record.h"
#include "stepscope/observer.h"

namespace stepscope::ui {

class StepProbe : public StepObserver {
public:
    // `record` receives one step's observations of batch element `observed` of `batch`.
    StepProbe(StepRecord& record, int observed, int batch, int layers);

    void attention_weights(int layer, AttentionRole role, const ConstMatrixRef& weights) override;
    void state_norms(int layer, AttentionRole role, const StateNorms& norms) override;
    void attention_map(int layer, AttentionRole role, const AttentionMap& map) override;
    void state_capacity(int layer, AttentionRole role, const StateCapacity& capacity) override;
    void layer_output(int layer, const ConstMatrixRef& y) override;

    // Each layer's output row of the observed element, (E) per layer, when keep_layer_outputs().
    const std::vector<std::vector<float>>& layerOutputs() const { return layer_outputs_; }
    void keep_layer_outputs() { keep_layer_outputs_ = true; }

private:
    StepRecord& record_;
    int observed_;
    int batch_;
    bool keep_layer_outputs_ = false;
    std::vector<std::vector<float>> layer_outputs_;
};

}  // namespace stepscope::ui
