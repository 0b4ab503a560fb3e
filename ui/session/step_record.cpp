// Viewing one batch element of a step's records, and labels of a run's model.
#include "session/step_record.h"

#include "session/step_layout.h"

#include "stepscope/attention_kind.h"

namespace stepscope::ui {

StepRecord BatchRecord::element(int n) const {
    // A view needs a block to look at: this record's, packed as a run keeps it.
    struct Packed {
        StepLayout layout;
        StepHead head;
        std::vector<float> block;
    };
    auto packed = std::make_shared<Packed>();
    packed->layout = StepLayout::of(*this);
    packed->block.resize(packed->layout.floats());
    packed->layout.pack(*this, packed->block.data());
    packed->head = StepLayout::head(*this);
    if (packed->head.observations) packed->head.observations->show(n, batch);
    StepRecord out = packed->layout.view(packed->head, packed->block.data(), n);
    out.owner = std::move(packed);
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
