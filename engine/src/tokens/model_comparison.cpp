// One curve per model: the stored evaluation's groups as points (K or T, state bytes, metric).
#include "stepscope/model_comparison.h"

#include <algorithm>
#include <cstdlib>

namespace stepscope {

double group_position(const GroupScore& group) {
    if (group.name.rfind("K=", 0) == 0) {
        char* end = nullptr;
        const double pairs = std::strtod(group.name.c_str() + 2, &end);
        if (end && *end == '\0' && pairs > 0) return pairs;
    }
    return double(group.steps);
}

ComparedModel compare_model(const TokenModel& model, const std::string& name, const EvaluationProgress& progress) {
    const Evaluation evaluation = evaluate_stored(model, progress);
    ComparedModel curve;
    curve.attention_type = model.transformer().config().attention_type;
    curve.label = name + " (" + curve.attention_type + ")";
    curve.task = model.task_name();
    curve.metric = evaluation.metric;
    curve.value = evaluation.value;
    for (const GroupScore& group : evaluation.groups)
        curve.points.push_back({group.name, group_position(group), group.steps, group.state_bytes, group.value});
    return curve;
}

std::string comparison_mismatch(const std::vector<ComparedModel>& models, const ComparedModel& next) {
    if (models.empty() || models.front().metric == next.metric) return {};
    return "its metric is " + next.metric + ", the models before it " + models.front().metric +
           "; compare models of one task";
}

std::string comparison_position_name(const std::vector<ComparedModel>& models) {
    const bool recall =
        std::all_of(models.begin(), models.end(), [](const ComparedModel& model) { return model.task == "recall"; });
    return recall ? "stored pairs K" : "steps per sequence";
}

}  // namespace stepscope
