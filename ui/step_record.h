// What one step leaves for the plots and the traces, as plain values that cross threads by copy.
//
// The engine's observations of every batch element travel and stay together (BatchRecord), so
// that showing another element is a slice of what was recorded, never a recomputation; the plots
// read the shown element's slice (StepRecord).
#pragma once

#include <QMetaType>
#include <QString>

#include <cstdint>
#include <memory>
#include <vector>

#include "stepscope/model.h"
#include "stepscope/observer.h"

namespace stepscope::ui {

// The state norms of one attention module, one value per head: (H) in a StepRecord, (N, H) in a BatchRecord.
struct ModuleNorms {
    bool present = false;
    bool is_linear = false;
    std::vector<float> first;   // linear: ||S||; full: ||K||
    std::vector<float> second;  // linear: ||Z||; full: ||V||
    int cache_length = 0;       // full: cached steps (self) or memory length (cross)
};

struct LayerNorms {
    ModuleNorms self;
    ModuleNorms cross;  // decoders
};

// Softmax weights of one full-attention module: (heads, keys) in a StepRecord, (N, heads, keys) in a
// BatchRecord, the keys being steps first_key .. first_key + keys - 1 (self) or memory elements (cross).
struct AttentionRows {
    int layer = 0;
    AttentionRole role = AttentionRole::Self;
    int heads = 0;
    int first_key = 0;
    int keys = 0;
    std::vector<float> weights;
};

// One step of the batch element the plots show.
struct StepRecord {
    int64_t step = 0;  // sequence elements consumed after this step (1 for the first)
    double latency_ms = 0;
    int64_t state_bytes = 0;
    std::vector<float> output;  // y of the shown element, (E)
    float output_norm = 0;      // ||y|| of the shown element
    std::vector<LayerNorms> layers;
    std::vector<AttentionRows> attention;  // kept for the most recent kAttentionWindow steps only
};

// One step of every batch element: what the traces keep and the CSV writes.
struct BatchRecord {
    int64_t step = 0;
    double latency_ms = 0;
    int64_t state_bytes = 0;
    int batch = 0;                     // N
    std::vector<float> outputs;        // y, (N, E)
    std::vector<float> output_norms;   // ||y|| per element, (N)
    std::vector<LayerNorms> layers;    // first, second: (N, H)
    std::vector<AttentionRows> attention;

    int width() const { return batch > 0 ? int(outputs.size()) / batch : 0; }
    // The slice of batch element `n` (0 .. batch - 1).
    StepRecord element(int n) const;
};

// The heatmap keeps this many query steps and keys: its memory stays bounded on long runs.
constexpr int kAttentionWindow = 256;

// A run's shape, for labels and selectors.
struct RunInfo {
    std::shared_ptr<const Model> model;
    QString label;         // "linear (elu)", "full", ...
    QString weights;       // "seed 1" or the file
    int batch = 0;
    int64_t base_step = 0; // the step the run starts from (non-zero after Open snapshot)
    uint64_t sequence_seed = 0;
    int observed = 0;      // the batch element the plots show
};

// Records travel in shared, immutable batches so a queued signal copies a pointer, not the data.
struct StepBatch {
    std::shared_ptr<const std::vector<BatchRecord>> records;
};

QString run_label(const ModelConfig& config);

}  // namespace stepscope::ui

Q_DECLARE_METATYPE(stepscope::ui::RunInfo)
Q_DECLARE_METATYPE(stepscope::ui::StepBatch)
