// The step both stacks share: encoder and decoder layers over one running activation, then the final norm.
#pragma once

#include <optional>

#include "layers/step_scratch.h"
#include "layers/layer_norm_activation.h"
#include "stepscope/observer.h"

namespace stepscope {

// y (N, E) = norm(layer_{L-1}(... layer_0(x))), with step_layer(i, h) running layer i on h (N, E) in place
// and the observer seeing each layer's output. h is the scratch's running activation, so a step allocates
// nothing once the shapes are known.
template <typename StepLayer>
void step_layers(const ConstMatrixRef& x, int n_layers, const std::optional<LayerNorm>& norm, StepScratch& s,
                 RowMatrix& y, StepObserver* observer, StepLayer step_layer) {
    ensure_shape(s.x, x.rows(), x.cols());
    s.x = x;
    for (int i = 0; i < n_layers; ++i) {
        step_layer(i, s.x);
        if (observer) observer->layer_output(i, s.x);
    }
    if (norm) norm->apply(s.x);
    ensure_shape(y, x.rows(), x.cols());
    y = s.x;
}

}  // namespace stepscope
