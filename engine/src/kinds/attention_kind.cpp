// The registry of attention kinds: a name, its implementation (kinds/), and whether a decoder may
// cross-attend with it.
#include "kinds/attention_kind.h"

#include <algorithm>

#include "stepscope/error.h"

namespace stepscope {

// Each defined in its own file under kinds/.
const AttentionKind& linear_attention_kind();
const AttentionKind& full_attention_kind();
const AttentionKind& delta_rule_kind();
const AttentionKind& gated_delta_rule_kind();
const AttentionKind& gated_linear_attention_kind();
#ifdef STEPSCOPE_TOY_KIND
const AttentionKind& decayed_linear_attention_kind();  // tests/toy_kind/: proves the walkthrough in CI
#endif

namespace {

struct Registered {
    const char* name;
    const AttentionKind& (*kind)();
    bool cross;  // offered as cross attention
};

// A new attention kind is one file under kinds/ and one line here. As in the reference's
// registry, "causal-linear" is the recurrent form of linear attention, self attention only.
const std::vector<Registered>& registry() {
    static const std::vector<Registered> kinds = {
        {"full", full_attention_kind, true},
        {"linear", linear_attention_kind, true},
        {"causal-linear", linear_attention_kind, false},
        {"delta", delta_rule_kind, false},
        {"gated-delta", gated_delta_rule_kind, false},
        {"gated-linear", gated_linear_attention_kind, false},
#ifdef STEPSCOPE_TOY_KIND
        {"decayed-linear", decayed_linear_attention_kind, false},
#endif
    };
    return kinds;
}

const Registered& registered(const std::string& name) {
    const auto& kinds = registry();
    const auto found =
        std::find_if(kinds.begin(), kinds.end(), [&](const Registered& kind) { return name == kind.name; });
    if (found == kinds.end()) {
        std::string names;
        for (const auto& kind : kinds) names += (names.empty() ? "" : ", ") + std::string(kind.name);
        throw Error("unknown attention type " + quote_text(name) + " (known: " + names + ")");
    }
    return *found;
}

}  // namespace

bool state_grows(const AttentionCapabilities& kind) {
    return std::any_of(kind.components.begin(), kind.components.end(), [](const StateComponent& c) { return c.grows; });
}

const std::vector<std::string>& attention_kind_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& kind : registry()) out.emplace_back(kind.name);
        return out;
    }();
    return names;
}

const AttentionCapabilities& attention_capabilities(const std::string& name) {
    static const std::vector<AttentionCapabilities> all = [] {
        std::vector<AttentionCapabilities> out;
        for (const auto& kind : registry()) {
            AttentionCapabilities c = kind.kind().capabilities();
            c.name = kind.name;
            c.cross = kind.cross;
            out.push_back(std::move(c));
        }
        return out;
    }();
    return all[size_t(&registered(name) - registry().data())];
}

const KindParameter* find_kind_parameter(const std::string& name) {
    for (const auto& kind : attention_kind_names())
        for (const KindParameter& parameter : attention_capabilities(kind).parameters)
            if (parameter.name == name) return &parameter;
    return nullptr;
}

const AttentionKind& find_attention_kind(const std::string& name) { return registered(name).kind(); }

void AttentionKind::cross_start(const InnerAttention& /*inner*/, AttentionScratch& /*s*/, const RowMatrix& /*keys*/,
                                const RowMatrix& /*values*/, int /*batch*/, AttentionState& /*state*/,
                                uint64_t /*sequence_seed*/) const {
    throw Error(capabilities().description + " has no cross attention");
}

void AttentionKind::self_block(const InnerAttention& /*inner*/, BlockScratch& /*b*/, AttentionState& /*state*/,
                               uint64_t /*sequence_seed*/, int /*steps*/, int /*batch*/) const {
    throw Error(capabilities().description + " takes a block one step at a time");
}

void AttentionKind::cross_step(const InnerAttention& /*inner*/, const MemoryProjection& /*memory*/,
                               AttentionScratch& /*s*/, AttentionState& /*state*/, uint64_t /*sequence_seed*/,
                               const LayerStep& /*step*/) const {
    throw Error(capabilities().description + " has no cross attention");
}

}  // namespace stepscope
