// What a branch changes in a run: heads ablated, state edits and edited inputs, as session values.
//
// Each intervention acts on the transition from step `step` to `step + 1` (the state after `step`
// steps), so a session that lists them, replayed from its start, reproduces the branch exactly.
#pragma once

#include <QJsonArray>
#include <QString>

#include <cstdint>
#include <vector>

#include "stepscope/intervention.h"

namespace stepscope::ui {

enum class InterventionKind {
    AblateHead,        // head `head` of `layer` contributes zero from `step` on
    ScaleHead,         // head `head`'s S and Z (linear attention) times `factor`; 0 erases them
    ClearLayer,        // layer `layer`'s self-attention state emptied (S, Z or the key/value cache)
    CopyFromOriginal,  // layer `layer`'s state taken from the run without interventions (activation patching)
    EditInput,         // the next input's component `index` of batch element `element` set to `value`
    EditToken,         // token input: the next step of batch element `element` fed `tokens` instead
    ClearHeadCache,    // head `head`'s key/value cache (softmax attention) emptied: it attends to later steps only
};

struct Intervention {
    InterventionKind kind = InterventionKind::AblateHead;
    int64_t step = 0;
    int layer = 0;
    int head = 0;
    AttentionRole role = AttentionRole::Self;
    double factor = 0;  // ScaleHead
    int element = 0;    // EditInput
    int index = 0;      // EditInput
    double value = 0;   // EditInput
    QString tokens;     // EditToken: one step as typed ("k3+v9", or a character)

    bool operator==(const Intervention& other) const;
};

QString intervention_kind_name(InterventionKind kind);
// One line for lists and menus: "ablate L1 H0 from step 40".
QString describe(const Intervention& intervention);

// The heads silenced by the AblateHead interventions of `interventions`.
Ablation ablation_of(const std::vector<Intervention>& interventions);

QJsonArray interventions_to_json(const std::vector<Intervention>& interventions);
// Strict, as the session reader: unknown keys and impossible values throw Error naming
// "interventions[i].key". Model-specific checks (layer and head ranges) are the engine's.
std::vector<Intervention> interventions_from_json(const QJsonValue& value);

}  // namespace stepscope::ui
