// A StepObserver that copies the engine's norms and attention weights of every batch element into a BatchRecord.
#pragma once

#include "step_record.h"
#include "stepscope/observer.h"

namespace stepscope::ui {

class StepProbe : public StepObserver {
public:
    // `record` receives one step's observations of the `batch` elements of a model of `layers` layers.
    StepProbe(BatchRecord& record, int batch, int layers);

    void attention_weights(int layer, AttentionRole role, const ConstMatrixRef& weights) override;
    void state_norms(int layer, AttentionRole role, const StateNorms& norms) override;

private:
    BatchRecord& record_;
};

}  // namespace stepscope::ui
