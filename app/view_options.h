// The --observe and --ablate options that replay and bench share.
#pragma once

#include "arguments.h"
#include "stepscope/intervention.h"
#include "stepscope/observation.h"

namespace stepscope::cli {

// --observe attention,spectrum (either or both): what to compute; the caller chooses the layers.
ObservationOptions observe_option(const Arguments& args);
// Every --ablate LAYER:HEAD: self-attention heads silenced at every step.
Ablation ablate_option(const Arguments& args);

}  // namespace stepscope::cli
