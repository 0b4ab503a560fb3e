// Slicing one batch element out of a step's records, and labels of a run's model.
#include "session/step_record.h"

#include "stepscope/attention_kind.h"

namespace stepscope::ui {

namespace {

// Rows n*count .. (n+1)*count - 1 of `all`, or nothing when `all` is shorter.
std::vector<float> slice(const std::vector<float>& all, int n, size_t count) {
    const size_t begin = size_t(n) * count;
    if (all.size() < begin + count) return {};
    return std::vector<float>(all.begin() + long(begin), all.begin() + long(begin + count));
}

ModuleNorms element_norms(const ModuleNorms& all, int n, int batch) {
    ModuleNorms out = all;
    if (!all.present || batch <= 0) return out;
    out.first = slice(all.first, n, all.first.size() / size_t(batch));
    out.second = slice(all.second, n, all.second.size() / size_t(batch));
    return out;
}

}  // namespace

StepRecord BatchRecord::element(int n) const {
    StepRecord out;
    out.step = step;
    out.latency_ms = latency_ms;
    out.state_bytes = state_bytes;
    if (n < 0 || n >= batch) return out;
    out.output = slice(outputs, n, size_t(width()));
    out.output_norm = n < int(output_norms.size()) ? output_norms[size_t(n)] : 0.0f;
    out.layers.reserve(layers.size());
    for (const LayerNorms& layer : layers)
        out.layers.push_back({element_norms(layer.self, n, batch), element_norms(layer.cross, n, batch)});
    if (!updates.empty()) {
        // (L, kUpdates, N, H) -> (L, kUpdates, H): element n's row of every block.
        const size_t blocks = layers.size() * kUpdates, heads = updates.size() / (blocks * size_t(batch));
        out.updates.reserve(blocks * heads);
        for (size_t b = 0; b < blocks; ++b) {
            const auto row = updates.begin() + long((b * size_t(batch) + size_t(n)) * heads);
            out.updates.insert(out.updates.end(), row, row + long(heads));
        }
    }
    const bool observed_element = n == observed;
    out.attention.reserve(attention.size());
    for (const AttentionRows& rows : attention) {
        if (rows.implicit) {
            if (observed_element) out.attention.push_back(rows);
            continue;
        }
        out.attention.push_back({rows.implicit, rows.is_signed, rows.layer, rows.role, rows.heads, rows.first_key,
                                 rows.keys, slice(rows.weights, n, size_t(rows.heads) * size_t(rows.keys))});
    }
    if (n < int(tokens.size())) out.token = tokens[size_t(n)];
    if (observed_element) {
        out.capacity = capacity;
        out.divergence = divergence;
        out.retrieval = retrieval;
    }
    return out;
}

QString run_label(const ModelConfig& config) {
    auto attention = [&](const std::string& type) {
        const QString name = QString::fromStdString(type);
        if (!attention_capabilities(type).feature_map) return name;
        return QStringLiteral("%1 (%2)").arg(name, QString::fromStdString(config.feature_map));
    };
    if (config.kind == ModelKind::Encoder) return attention(config.attention_type);
    return QStringLiteral("self %1, cross %2")
        .arg(attention(config.self_attention_type), attention(config.cross_attention_type));
}

}  // namespace stepscope::ui
