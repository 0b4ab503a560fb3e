// What one step leaves for the plots and the traces, as plain values that cross threads by copy.
//
// The engine's observations of every batch element travel together (BatchRecord) and a run keeps
// them compactly (step_layout.h), so that showing another element is a view of what was recorded,
// never a recomputation; the plots read the shown element's view (StepRecord).
#pragma once

#include <QMetaType>
#include <QString>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "stepscope/model.h"
#include "stepscope/observer.h"
#include "stepscope/token_model.h"
#include "stepscope/token_tasks.h"

namespace stepscope::ui {

// The state norms of one attention module, one value per head: (H) in a StepRecord, (N, H) in a BatchRecord.
struct ModuleNorms {
    bool present = false;
    // The kind's components' norms in its order (AttentionCapabilities::components): ||S||, ||Z|| or ||K||, ||V||.
    std::vector<float> first;
    std::vector<float> second;  // empty where the kind keeps one component
    int cache_length = 0;       // a growing state: cached steps (self) or memory length (cross)
};

// What the delta-rule family reports of each step's update (StateNorms), in this order; a record keeps them
// in one vector, empty for every other kind, so a step of those costs nothing more.
enum class Update { WriteStrength = 0, ForgetGate = 1, PredictionError = 2 };
constexpr int kUpdates = 3;

struct LayerNorms {
    ModuleNorms self;
    ModuleNorms cross;  // decoders
};

// Attention weights of one module, the keys being steps first_key .. first_key + keys - 1 (self) or
// memory elements (cross). Softmax weights of full attention: (heads, keys) in a StepRecord,
// (N, heads, keys) in a BatchRecord. The implicit weights of linear attention (observed layers
// only, see AttentionMap) exist for the observed element alone: (heads, keys) in both.
struct AttentionRows {
    bool implicit = false;   // computed from the state for the observed element (AttentionMap), not softmax
    bool is_signed = false;  // the delta rules' implicit weights: negative where a later key overwrote
    int layer = 0;
    AttentionRole role = AttentionRole::Self;
    int heads = 0;
    int first_key = 0;
    int keys = 0;
    std::vector<float> weights;
};

// The capacity of one observed module's state after a step (StateCapacity), for the observed element.
struct CapacityRecord {
    int layer = 0;
    AttentionRole role = AttentionRole::Self;
    int heads = 0;
    int rank = 0;                        // singular values per head; 0 when the spectrum was not observed
    std::vector<float> singular_values;  // (heads, rank), each head descending
    std::vector<float> effective_rank;   // (heads) or empty
    std::vector<float> denominator;      // (heads): phi(q) . Z of the observed element
    std::vector<float> min_denominator;  // (heads): the least phi(q) . Z over the batch
    int cache_length = 0;                // softmax
    std::vector<float> row_entropy;      // (heads), softmax, in nats
};

// A token model's step of one sequence: what it read and what it predicts next.
struct TokenPrediction {
    TokenStep input;              // the step's tokens (a recall pair holds two)
    std::vector<Prediction> top;  // the most probable next tokens, most probable first
    int64_t target = -1;          // the task's answer to this step, -1 where nothing is scored
    float target_probability = std::numeric_limits<float>::quiet_NaN();
    bool correct = false;  // the target is the most probable token
    // A branch's observed element: p(target) minus the original's at this step; NaN otherwise.
    float target_change = std::numeric_limits<float>::quiet_NaN();
    // Past the prompt (a recall instance, typed text): the input is the model's own prediction.
    bool generated = false;
};

// A read-only run of values kept elsewhere (a trace's block, a record's vector): indexed and
// iterated like a const std::vector, compared with one and copied into one.
template <typename T>
class ListView {
public:
    ListView() = default;
    ListView(const T* data, std::size_t size) : data_(size > 0 ? data : nullptr), size_(size) {}
    ListView(const std::vector<T>& all) : ListView(all.data(), all.size()) {}  // NOLINT: views the vector
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const T* data() const { return data_; }
    const T* begin() const { return data_; }
    const T* end() const { return data_ + size_; }
    const T& operator[](std::size_t i) const { return data_[i]; }
    const T& front() const { return data_[0]; }
    const T& back() const { return data_[size_ - 1]; }
    operator std::vector<T>() const { return std::vector<T>(begin(), end()); }  // NOLINT: a copy on request
    friend bool operator==(const ListView& a, const ListView& b) {
        return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
    }
    friend bool operator!=(const ListView& a, const ListView& b) { return !(a == b); }
    friend bool operator==(const ListView& a, const std::vector<T>& b) { return a == ListView(b); }
    friend bool operator==(const std::vector<T>& a, const ListView& b) { return ListView(a) == b; }
    friend bool operator!=(const ListView& a, const std::vector<T>& b) { return !(a == b); }
    friend bool operator!=(const std::vector<T>& a, const ListView& b) { return !(a == b); }

private:
    const T* data_ = nullptr;
    std::size_t size_ = 0;
};
using FloatView = ListView<float>;

class StepLayout;

// One attention module's norms of the shown element, (H) each, as a view of the run's records.
struct ModuleNormsView {
    bool present = false;
    FloatView first;  // the kind's components' norms in its order: ||S||, ||Z|| or ||K||, ||V||
    FloatView second;
    int cache_length = 0;
};

struct LayerNormsView {
    ModuleNormsView self;
    ModuleNormsView cross;
};

// The layers of one element's step block (step_layout.h): layers[l] reads layer l's norms.
class LayersView {
public:
    LayersView() = default;
    LayersView(const StepLayout* layout, const float* block, int element)
        : layout_(layout), block_(block), element_(element) {}
    std::size_t size() const;
    bool empty() const { return size() == 0; }
    LayerNormsView operator[](std::size_t layer) const;

private:
    const StepLayout* layout_ = nullptr;
    const float* block_ = nullptr;
    int element_ = 0;
};

// One step of the batch element the plots show: a view of what the run's traces keep (TraceStore),
// built on every read without copying, valid while the run's records are (they are only appended to).
struct StepRecord {
    int64_t step = 0;  // sequence elements consumed after this step (1 for the first)
    double latency_ms = 0;
    int64_t state_bytes = 0;
    FloatView output;       // y of the shown element, (E)
    float output_norm = 0;  // ||y|| of the shown element
    LayersView layers;
    // The delta-rule family's self attention: (L, kUpdates, H), NaN where the kind reports no such value.
    FloatView updates;
    ListView<AttentionRows> attention;  // kept for the most recent kAttentionWindow steps only
    ListView<CapacityRecord> capacity;  // the observed layers'
    // A branch: ||y_l - y_l(original)|| of the observed element for each layer l, then for the
    // output; empty for a run without interventions.
    FloatView divergence;
    const TokenPrediction* token = nullptr;  // token input only
    // Recall: each pair stored so far read back through the state after this step.
    ListView<Retrieval> retrieval;
    // What a view of a record outside any run (BatchRecord::element) keeps alive; empty otherwise.
    std::shared_ptr<const void> owner;
};

// One step of every batch element: what the traces keep and the CSV writes.
struct BatchRecord {
    int64_t step = 0;
    double latency_ms = 0;
    int64_t state_bytes = 0;
    int batch = 0;                         // N
    std::vector<float> outputs;            // y, (N, E)
    std::vector<float> output_norms;       // ||y|| per element, (N)
    std::vector<LayerNorms> layers;        // first, second: (N, H)
    std::vector<float> updates;            // the delta-rule family: (L, kUpdates, N, H)
    std::vector<AttentionRows> attention;  // implicit maps: the observed element's only
    // The engine looks inside the layers (capacity, implicit maps) and compares a branch with its
    // original (divergence) for one element, the observed one: these belong to it alone.
    int observed = 0;
    std::vector<CapacityRecord> capacity;
    std::vector<float> divergence;
    std::vector<TokenPrediction> tokens;  // (N) with token input, else empty
    std::vector<Retrieval> retrieval;     // recall: the observed element's stored pairs read back
    // A branch: its original's record of the same step (not kept in the traces): a parent without
    // interventions that the branch steps past goes on with these (SessionController).
    std::shared_ptr<const BatchRecord> original;

    int width() const { return batch > 0 ? int(outputs.size()) / batch : 0; }
    // The slice of batch element `n` (0 .. batch - 1); the observed element's alone has the
    // capacity, divergence and implicit maps. It holds a compact copy of this record (for tests and
    // one-off reads; a run's records are read through TraceStore).
    StepRecord element(int n) const;
};

// The heatmap keeps this many query steps and keys: its memory stays bounded on long runs.
constexpr int kAttentionWindow = 256;

// A run's shape, for labels and selectors.
struct RunInfo {
    std::shared_ptr<const Model> model;
    std::shared_ptr<const TokenModel> tokens;  // with token input: the model's head and vocabulary
    QString label;                             // "linear (elu)", "full", ...
    QString weights;                           // "seed 1" or the file
    int batch = 0;
    int64_t base_step = 0;  // the step the run starts from (non-zero after Open snapshot)
    uint64_t sequence_seed = 0;
    int observed = 0;  // the batch element the plots show
};

// Records travel in shared, immutable batches so a queued signal copies a pointer, not the data.
struct StepBatch {
    std::shared_ptr<const std::vector<BatchRecord>> records;
    int run = -1;  // the run they belong to (RunTree ids)
};

QString run_label(const ModelConfig& config);

}  // namespace stepscope::ui

Q_DECLARE_METATYPE(stepscope::ui::RunInfo)
Q_DECLARE_METATYPE(stepscope::ui::StepBatch)
