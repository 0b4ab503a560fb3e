// The Compare-models figure of `stepscope eval --compare`: each model's metric against stored pairs and against
// the bytes of state one sequence holds, one curve per model, as an SVG document (no Qt, so the headless build
// draws it too).
#pragma once

#include <string>
#include <vector>

#include "stepscope/model_comparison.h"

namespace stepscope::cli {

// Two panels side by side, log2 x axis on the left, log10 on the right; `metric` names the y axis
// ("accuracy" runs 0 to 1) and `position_name` the left x axis ("stored pairs K").
std::string comparison_svg(const std::vector<ComparedModel>& models, const std::string& metric,
                           const std::string& position_name);

}  // namespace stepscope::cli
