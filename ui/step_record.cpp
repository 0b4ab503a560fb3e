// Labels of a run's model for legends and the status bar.
#include "step_record.h"

namespace stepscope::ui {

QString run_label(const ModelConfig& config) {
    auto attention = [&](const std::string& type) {
        const QString name = QString::fromStdString(type);
        return type == "full" ? name : QStringLiteral("%1 (%2)").arg(name, QString::fromStdString(config.feature_map));
    };
    if (config.kind == ModelKind::Encoder) return attention(config.attention_type);
    return QStringLiteral("self %1, cross %2")
        .arg(attention(config.self_attention_type), attention(config.cross_attention_type));
}

}  // namespace stepscope::ui
