// Packing a step's records into one block of floats and viewing an element of it.
#include "session/step_layout.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace stepscope::ui {

namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// A module's word: flags in the low bits, the cache length above them, stored bit for bit in a float slot.
constexpr uint32_t kPresent = 1, kFirst = 2, kSecond = 4;
constexpr int kLengthShift = 3;

float word_to_float(uint32_t word) {
    float out;
    std::memcpy(&out, &word, sizeof out);
    return out;
}

uint32_t float_to_word(float slot) {
    uint32_t out;
    std::memcpy(&out, &slot, sizeof out);
    return out;
}

const ModuleNorms* module_of(const BatchRecord& r, int layers, int m) {
    if (m < layers) return m < int(r.layers.size()) ? &r.layers[size_t(m)].self : nullptr;
    return m - layers < int(r.layers.size()) ? &r.layers[size_t(m - layers)].cross : nullptr;
}

// Copies `count` values of element `n` from `all` (N rows of `count`), or NaN where `all` is short.
bool copy_row(const std::vector<float>& all, int n, std::size_t count, float* into) {
    const std::size_t begin = std::size_t(n) * count;
    if (all.size() < begin + count) {
        std::fill(into, into + count, kMissing);
        return false;
    }
    std::copy(all.begin() + long(begin), all.begin() + long(begin + count), into);
    return true;
}

template <typename T>
std::size_t vector_bytes(const std::vector<T>& v) {
    return v.capacity() * sizeof(T);
}

std::size_t rows_bytes(const std::vector<AttentionRows>& rows) {
    std::size_t total = vector_bytes(rows);
    for (const AttentionRows& r : rows) total += vector_bytes(r.weights);
    return total;
}

}  // namespace

void StepObservations::show(int n, int batch) {
    shown = n;
    shown_attention.clear();
    for (const AttentionRows& rows : attention) {
        if (rows.implicit) {
            if (n == observed) shown_attention.push_back(rows);
            continue;
        }
        // Softmax rows are (N, heads, keys): element n's block.
        const std::size_t count = std::size_t(rows.heads) * std::size_t(rows.keys), begin = std::size_t(n) * count;
        AttentionRows own{rows.implicit, rows.is_signed, rows.layer, rows.role,
                          rows.heads,    rows.first_key, rows.keys,  {}};
        if (batch > 0 && rows.weights.size() >= begin + count)
            own.weights.assign(rows.weights.begin() + long(begin), rows.weights.begin() + long(begin + count));
        shown_attention.push_back(std::move(own));
    }
}

std::size_t StepObservations::attention_bytes() const { return rows_bytes(attention) + rows_bytes(shown_attention); }

std::size_t StepObservations::bytes() const {
    std::size_t total = sizeof(StepObservations) + attention_bytes() + vector_bytes(capacity) +
                        vector_bytes(divergence) + vector_bytes(tokens) + vector_bytes(retrieval);
    for (const CapacityRecord& c : capacity)
        total += vector_bytes(c.singular_values) + vector_bytes(c.effective_rank) + vector_bytes(c.denominator) +
                 vector_bytes(c.min_denominator) + vector_bytes(c.row_entropy);
    for (const TokenPrediction& p : tokens) total += vector_bytes(p.input) + vector_bytes(p.top);
    return total;
}

void StepObservations::drop_attention() {
    attention.clear();
    attention.shrink_to_fit();
    shown_attention.clear();
    shown_attention.shrink_to_fit();
}

StepLayout StepLayout::of(const BatchRecord& r) {
    StepLayout out;
    out.batch_ = std::max(r.batch, 0);
    out.width_ = r.width();
    out.layers_ = int(r.layers.size());
    const int batch = std::max(r.batch, 1);
    for (const LayerNorms& layer : r.layers) {
        if (layer.self.present) out.self_heads_ = std::max(out.self_heads_, int(layer.self.first.size()) / batch);
        if (layer.cross.present) {
            out.cross_ = true;
            out.cross_heads_ = std::max(out.cross_heads_, int(layer.cross.first.size()) / batch);
        }
    }
    out.updates_ = !r.updates.empty();
    return out;
}

std::size_t StepLayout::module_offset(int m) const {
    // Element block: y (E), ||y||, then each module's first and second norms.
    const int self = std::min(m, layers_), cross = std::max(0, m - layers_);
    return std::size_t(width_) + 1 + 2 * (std::size_t(self) * self_heads_ + std::size_t(cross) * cross_heads_);
}

std::size_t StepLayout::element_floats() const { return module_offset(modules()) + update_floats(); }

void StepLayout::pack(const BatchRecord& r, float* block) const {
    const int modules = this->modules();
    float* elements = block + modules;
    for (int n = 0; n < batch_; ++n) {
        float* e = elements + std::size_t(n) * element_floats();
        copy_row(r.outputs, n, std::size_t(width_), e);
        e[width_] = n < int(r.output_norms.size()) ? r.output_norms[size_t(n)] : kMissing;
    }
    for (int m = 0; m < modules; ++m) {
        const ModuleNorms* norms = module_of(r, layers_, m);
        uint32_t word = 0;
        const std::size_t heads = std::size_t(this->heads(m));
        for (int n = 0; n < batch_; ++n) {
            float* at = elements + std::size_t(n) * element_floats() + module_offset(m);
            const bool first = norms && norms->present && heads > 0 && copy_row(norms->first, n, heads, at);
            const bool second = norms && norms->present && heads > 0 && copy_row(norms->second, n, heads, at + heads);
            if (n == 0) word = (first ? kFirst : 0) | (second ? kSecond : 0);
            if (!norms || !norms->present) std::fill(at, at + 2 * heads, kMissing);
        }
        if (norms && norms->present) word |= kPresent | (uint32_t(std::max(norms->cache_length, 0)) << kLengthShift);
        block[m] = word_to_float(word);
    }
    if (!updates_) return;
    // (L, kUpdates, N, H) in the record -> (L, kUpdates, H) in each element's block.
    const std::size_t heads = std::size_t(self_heads_), rows = std::size_t(layers_) * kUpdates;
    const bool whole = r.updates.size() == rows * std::size_t(batch_) * heads;
    for (int n = 0; n < batch_; ++n) {
        float* at = elements + std::size_t(n) * element_floats() + module_offset(modules);
        for (std::size_t b = 0; b < rows; ++b)
            for (std::size_t h = 0; h < heads; ++h)
                at[b * heads + h] =
                    whole ? r.updates[(b * std::size_t(batch_) + std::size_t(n)) * heads + h] : kMissing;
    }
}

StepHead StepLayout::head(const BatchRecord& r) {
    StepHead out;
    out.step = r.step;
    out.latency_ms = r.latency_ms;
    out.state_bytes = r.state_bytes;
    out.has_updates = !r.updates.empty();
    out.observed = r.observed;
    if (r.attention.empty() && r.capacity.empty() && r.divergence.empty() && r.tokens.empty() && r.retrieval.empty())
        return out;
    out.observations = std::make_unique<StepObservations>();
    StepObservations& seen = *out.observations;
    seen.observed = seen.divergence_of = r.observed;
    seen.attention = r.attention;
    seen.capacity = r.capacity;
    seen.divergence = r.divergence;
    seen.tokens = r.tokens;
    seen.retrieval = r.retrieval;
    return out;
}

ModuleNormsView StepLayout::module(const float* block, int n, int m) const {
    ModuleNormsView out;
    if (m < 0 || m >= modules() || n < 0 || n >= batch_) return out;
    const uint32_t word = float_to_word(block[m]);
    out.present = word & kPresent;
    if (!out.present) return out;
    out.cache_length = int(word >> kLengthShift);
    const std::size_t heads = std::size_t(this->heads(m));
    const float* at = block + modules() + std::size_t(n) * element_floats() + module_offset(m);
    if (word & kFirst) out.first = FloatView(at, heads);
    if (word & kSecond) out.second = FloatView(at + heads, heads);
    return out;
}

std::size_t LayersView::size() const { return layout_ ? std::size_t(layout_->layers()) : 0; }

LayerNormsView LayersView::operator[](std::size_t layer) const {
    const int l = int(layer);
    return {layout_->module(block_, element_, l),
            layout_->cross() ? layout_->module(block_, element_, layout_->layers() + l) : ModuleNormsView{}};
}

StepRecord StepLayout::view(const StepHead& head, const float* block, int n) const {
    StepRecord out;
    out.step = head.step;
    out.latency_ms = head.latency_ms;
    out.state_bytes = head.state_bytes;
    if (n < 0 || n >= batch_) return out;
    const float* e = block + modules() + std::size_t(n) * element_floats();
    out.output = FloatView(e, std::size_t(width_));
    out.output_norm = e[width_];
    out.layers = LayersView(this, block, n);
    if (head.has_updates) out.updates = FloatView(e + module_offset(modules()), update_floats());
    const StepObservations* seen = head.observations.get();
    if (!seen) return out;
    if (seen->shown == n) out.attention = seen->shown_attention;
    if (n < int(seen->tokens.size())) out.token = &seen->tokens[size_t(n)];
    if (n == seen->observed) {
        out.capacity = seen->capacity;
        out.retrieval = seen->retrieval;
    }
    if (n == seen->divergence_of) out.divergence = seen->divergence;
    return out;
}

BatchRecord StepLayout::unpack(const StepHead& head, const float* block) const {
    BatchRecord r;
    r.step = head.step;
    r.latency_ms = head.latency_ms;
    r.state_bytes = head.state_bytes;
    r.batch = batch_;
    r.observed = head.observed;
    const std::size_t width = std::size_t(width_);
    for (int n = 0; n < batch_; ++n) {
        const float* e = block + modules() + std::size_t(n) * element_floats();
        r.outputs.insert(r.outputs.end(), e, e + width);
        r.output_norms.push_back(e[width_]);
    }
    r.layers.assign(std::size_t(layers_), {});
    for (int m = 0; m < modules(); ++m) {
        ModuleNorms& into = m < layers_ ? r.layers[size_t(m)].self : r.layers[size_t(m - layers_)].cross;
        const ModuleNormsView first = module(block, 0, m);
        into.present = first.present;
        into.cache_length = first.cache_length;
        for (int n = 0; n < batch_; ++n) {
            const ModuleNormsView own = module(block, n, m);
            into.first.insert(into.first.end(), own.first.begin(), own.first.end());
            into.second.insert(into.second.end(), own.second.begin(), own.second.end());
        }
    }
    if (head.has_updates) {
        // (L, kUpdates, H) per element -> (L, kUpdates, N, H).
        const std::size_t heads = std::size_t(self_heads_), rows = std::size_t(layers_) * kUpdates;
        r.updates.resize(rows * std::size_t(batch_) * heads);
        for (int n = 0; n < batch_; ++n) {
            const float* at = block + modules() + std::size_t(n) * element_floats() + module_offset(modules());
            for (std::size_t b = 0; b < rows; ++b)
                std::copy(at + b * heads, at + (b + 1) * heads,
                          r.updates.begin() + long((b * std::size_t(batch_) + std::size_t(n)) * heads));
        }
    }
    if (const StepObservations* seen = head.observations.get()) {
        r.attention = seen->attention;
        r.capacity = seen->capacity;
        r.divergence = seen->divergence;
        r.tokens = seen->tokens;
        r.retrieval = seen->retrieval;
    }
    return r;
}

}  // namespace stepscope::ui
