// Attention kinds by name (full, linear, causal-linear, and the delta-rule family: delta, gated-delta, gated-linear):
// what each keeps between steps, what it reads besides queries, keys and values, and what can be seen of it or done
// to it. What a kind does not declare is refused: a device, a view, an intervention.
//
// The explorer and the commands ask here instead of comparing names:
//   if (attention_capabilities(config.self_attention()).spectrum) show_spectrum();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stepscope {

// A number a kind reads besides the common builder parameters, declared by the kind itself: --set, a
// config's JSON, the model form and validation read this declaration, so a kind's constant needs no field in
// ModelConfig. The common parameters stay there because the reference's builders accept them whatever the
// attention type (a config fast-transformers loads must load here).
struct KindParameter {
    std::string name;   // its key: "decay"
    std::string label;  // the form's label: "Decay γ"
    double default_value = 0;
    double minimum = 0, maximum = 0;  // validation accepts the closed range
    std::string help;                 // one sentence: the form's tooltip
};

// The CUDA kernels (engine/cuda/) a kind can declare it steps with; None: the device refuses the kind.
enum class CudaKernel {
    None,
    LinearSums,    // S += phi(k) v^T, Z += phi(k), o = phi(q)^T S / (phi(q) . Z + eps)
    SoftmaxCache,  // append k and v, o = softmax(q K^T / T) V
};

// One part of what a kind keeps between steps, as the state plot, the traces' columns and --state name it.
struct StateComponent {
    std::string symbol;       // "S", "Z", "K", "V"
    std::string description;  // what it holds, with its shape per head
    bool grows = false;       // a row per step: the state grows with the sequence (a key/value cache)
};

struct AttentionCapabilities {
    std::string name;         // as configured: attention_type, self_attention_type, cross_attention_type
    std::string description;  // in a sentence: "linear attention", "softmax attention"
    // What it keeps, in StateNorms' order (sums then normalizer, or keys then values): the names and norms the
    // views show.
    std::vector<StateComponent> components;
    bool feature_map = false;       // a feature map phi applies (feature_map, feature_map_dimensions)
    bool cross = false;             // a decoder may use it as cross attention
    bool spectrum = false;          // observable: the singular values of S, its effective rank, phi(q) . Z
    bool cache_entropy = false;     // observable: the cache length and the entropy of each row of weights
    bool scale_head = false;        // scale_head() (intervention.h) scales a head's S and Z
    bool clear_head = false;        // clear_head_cache() (intervention.h) forgets a head's cached steps
    int64_t max_steps = INT64_MAX;  // the longest sequence its state holds
    // Per-head scalars projected from the layer's input, Linear(d_model, H) each, stored as
    // "{prefix}.{name}.weight" and ".bias": "beta_projection" (write strength), "gate_projection" (forget gate).
    std::vector<std::string> gates;
    bool normalizer = false;     // keeps Z beside S (linear, gated-linear): its norm is plotted
    bool attention_map = false;  // observable: the weights A[t, j] with o_t = sum_j A[t, j] v_j, exact
    // Its map costs a pass over the history, so it is computed only for the layers an Observation names;
    // otherwise (softmax) the weights come with every step.
    bool map_on_request = false;
    bool signed_map = false;        // those weights can be negative and need not sum to 1 (an overwrite subtracts)
    bool write_strength = false;    // observable per head: beta_t
    bool forget_gate = false;       // observable per head: alpha_t
    bool prediction_error = false;  // observable per head: ||v_t - S_{t-1}^T k_t||, what the memory did not predict
    CudaKernel cuda = CudaKernel::None;     // the kernel that steps it on CUDA
    std::vector<KindParameter> parameters;  // its own constants, in the order the form shows them
};

// True when a component grows with the sequence: its memory is then per step, and a long run may need Reset.
bool state_grows(const AttentionCapabilities& kind);

// The kinds in registry order.
const std::vector<std::string>& attention_kind_names();

// Throws Error naming `name` and the known kinds.
const AttentionCapabilities& attention_capabilities(const std::string& name);

// The parameter `name` as the first kind in registry order that declares it declares it; null when none does.
const KindParameter* find_kind_parameter(const std::string& name);

}  // namespace stepscope
