// Comparing token models of one task, as recall-against-state-size plots do (Zoology, Arora et al. 2023):
// each model's stored evaluation becomes one curve of its metric against the stored pairs K of each group
// (or the group's steps T, for tasks without pairs) and against the attention state one sequence holds.
// `stepscope eval --compare` and the explorer's Compare-models view both draw what these functions give.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stepscope/token_model.h"
#include "stepscope/token_tasks.h"

namespace stepscope {

struct ComparedPoint {
    std::string group;       // the evaluation group, e.g. "K=16"
    double position = 0;     // stored pairs K for a recall group "K=16", else the group's steps T
    int64_t steps = 0;       // the group's steps T
    double state_bytes = 0;  // GroupScore::state_bytes
    double value = 0;        // the group's metric
};

struct ComparedModel {
    std::string label;  // "recall_delta (delta)": the name given, then the attention kind
    std::string attention_type;
    std::string task;                   // the task's name ("recall", "text")
    std::string metric;                 // accuracy | bits_per_character
    double value = 0;                   // over every scored position of every group
    std::vector<ComparedPoint> points;  // one per group, in the file's order
};

// The left axis' x of a group: K of a recall group named "K=16", else its steps T.
double group_position(const GroupScore& group);

// Runs the model's stored evaluation set (evaluate_stored, which throws Error for a model without one)
// and returns its curve, labelled "`name` (attention kind)".
ComparedModel compare_model(const TokenModel& model, const std::string& name, const EvaluationProgress& progress = {});

// Why `next` cannot be drawn beside `models` ("its metric is bits_per_character, the models before it
// accuracy; compare models of one task"), or empty when it can.
std::string comparison_mismatch(const std::vector<ComparedModel>& models, const ComparedModel& next);

// The name of the left axis: "stored pairs K" when every model is a recall model, else "steps per sequence".
std::string comparison_position_name(const std::vector<ComparedModel>& models);

}  // namespace stepscope
