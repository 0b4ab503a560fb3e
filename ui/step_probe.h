// A StepObserver that copies the observed batch element's norms and attention weights into a StepRecord.
#pragma once

#include "step_record.h"
#include "stepscope/observer.h"

namespace stepscope::ui {

class StepProbe : public StepObserver {
public:
    // `record` receives one step's observations of batch element `observed` of `batch`.
    StepProbe(StepRecord& record, int observed, int batch, int layers);

    void attention_weights(int layer, AttentionRole role, const ConstMatrixRef& weights) override;
    void state_norms(int layer, AttentionRole role, const StateNorms& norms) override;

private:
    StepRecord& record_;
    int observed_;
    int batch_;
};

}  // namespace stepscope::ui
