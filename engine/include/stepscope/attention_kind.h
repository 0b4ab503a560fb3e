// Attention kinds by name (full, linear, causal-linear): what each keeps between steps, and what can be seen of it or
// done to it.
//
// The explorer and the commands ask here instead of comparing names:
//   if (attention_capabilities(config.self_attention()).spectrum) show_spectrum();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stepscope {

// What a kind keeps between steps.
enum class KeptState {
    Sums,   // a fixed size per head: S = sum phi(k) v^T and Z = sum phi(k) (linear kinds)
    Cache,  // a key/value cache that grows by a step each step (softmax)
};

struct AttentionCapabilities {
    std::string name;         // as configured: attention_type, self_attention_type, cross_attention_type
    std::string description;  // in a sentence: "linear attention", "softmax attention"
    KeptState kept = KeptState::Sums;
    bool feature_map = false;       // a feature map phi applies (feature_map, feature_map_dimensions)
    bool cross = false;             // a decoder may use it as cross attention
    bool spectrum = false;          // observable: the singular values of S, its effective rank, phi(q) . Z
    bool cache_entropy = false;     // observable: the cache length and the entropy of each row of weights
    bool scale_head = false;        // scale_head() (intervention.h) scales a head's S and Z
    bool clear_head = false;        // clear_head_cache() (intervention.h) forgets a head's cached steps
    int64_t max_steps = INT64_MAX;  // the longest sequence its state holds
};

// The kinds in registry order.
const std::vector<std::string>& attention_kind_names();

// Throws Error naming `name` and the known kinds.
const AttentionCapabilities& attention_capabilities(const std::string& name);

}  // namespace stepscope
