// Interventions as session JSON, strictly read, and the Ablation they add up to.
#include "session/intervention_spec.h"

#include <QJsonObject>

#include <cmath>
#include <set>

#include "stepscope/error.h"

namespace stepscope::ui {

namespace {

constexpr InterventionKind kKinds[] = {InterventionKind::AblateHead,    InterventionKind::ScaleHead,
                                       InterventionKind::ClearLayer,    InterventionKind::CopyFromOriginal,
                                       InterventionKind::EditInput,     InterventionKind::EditToken,
                                       InterventionKind::ClearHeadCache};

// Text from the file, quoted, escaped and cut short (error.h).
QString quoted(const QString& untrusted) { return QString::fromStdString(quote_text(untrusted.toStdString())); }

Error bad(int i, const QString& key, const QString& what) {
    return Error(QStringLiteral("session key %1 %2")
                     .arg(quoted(QStringLiteral("interventions[%1].%2").arg(i).arg(key)), what)
                     .toStdString());
}

int64_t whole(const QJsonObject& o, const QString& key, int i, double maximum) {
    const double number = o.value(key).toDouble(-1);
    if (!o.value(key).isDouble() || number < 0 || number > maximum || std::floor(number) != number)
        throw bad(i, key, QStringLiteral("must be an integer from 0 to %1").arg(maximum, 0, 'g', 16));
    return static_cast<int64_t>(number);
}

// A value the engine applies as a float32: 1e39 is finite as a double, infinite as a float.
double finite(const QJsonObject& o, const QString& key, int i) {
    const double number = o.value(key).toDouble(std::nan(""));
    if (!o.value(key).isDouble() || !std::isfinite(number) || !std::isfinite(static_cast<float>(number)))
        throw bad(i, key, QStringLiteral("must be a finite float32 number (at most 3.4e+38 in size)"));
    return number;
}

bool has_head(InterventionKind kind) {
    return kind == InterventionKind::AblateHead || kind == InterventionKind::ScaleHead ||
           kind == InterventionKind::ClearHeadCache;
}

}  // namespace

bool Intervention::operator==(const Intervention& o) const {
    return kind == o.kind && step == o.step && layer == o.layer && head == o.head && role == o.role &&
           factor == o.factor && element == o.element && index == o.index && value == o.value && tokens == o.tokens;
}

QString intervention_kind_name(InterventionKind kind) {
    switch (kind) {
        case InterventionKind::AblateHead: return QStringLiteral("ablate-head");
        case InterventionKind::ScaleHead: return QStringLiteral("scale-head");
        case InterventionKind::ClearLayer: return QStringLiteral("clear-layer");
        case InterventionKind::CopyFromOriginal: return QStringLiteral("copy-from-original");
        case InterventionKind::EditInput: return QStringLiteral("edit-input");
        case InterventionKind::EditToken: return QStringLiteral("edit-token");
        case InterventionKind::ClearHeadCache: return QStringLiteral("clear-head-cache");
    }
    return {};
}

QString describe(const Intervention& i) {
    const QString cross = i.role == AttentionRole::Cross ? QStringLiteral(" (cross)") : QString();
    switch (i.kind) {
        case InterventionKind::AblateHead:
            return QStringLiteral("ablate L%1 H%2%3 from step %4").arg(i.layer).arg(i.head).arg(cross).arg(i.step);
        case InterventionKind::ScaleHead:
            return QStringLiteral("scale L%1 H%2%3 S, Z by %4 at step %5")
                .arg(i.layer)
                .arg(i.head)
                .arg(cross)
                .arg(i.factor)
                .arg(i.step);
        case InterventionKind::ClearLayer: return QStringLiteral("clear L%1 state at step %2").arg(i.layer).arg(i.step);
        case InterventionKind::CopyFromOriginal:
            return QStringLiteral("copy L%1 state from the original at step %2").arg(i.layer).arg(i.step);
        case InterventionKind::EditInput:
            return QStringLiteral("input x[%1][%2] = %3 at step %4")
                .arg(i.element)
                .arg(i.index)
                .arg(i.value)
                .arg(i.step);
        case InterventionKind::EditToken:
            return QStringLiteral("element %1 fed %2 at step %3").arg(i.element).arg(quoted(i.tokens)).arg(i.step);
        case InterventionKind::ClearHeadCache:
            return QStringLiteral("clear L%1 H%2%3 cache at step %4").arg(i.layer).arg(i.head).arg(cross).arg(i.step);
    }
    return {};
}

Ablation ablation_of(const std::vector<Intervention>& interventions) {
    Ablation ablation;
    for (const Intervention& i : interventions)
        if (i.kind == InterventionKind::AblateHead) ablation.heads.push_back({i.layer, i.head, i.step, i.role});
    return ablation;
}

QJsonArray interventions_to_json(const std::vector<Intervention>& interventions) {
    QJsonArray out;
    for (const Intervention& i : interventions) {
        QJsonObject o{{"kind", intervention_kind_name(i.kind)}, {"step", double(i.step)}};
        if (i.kind == InterventionKind::EditInput) {
            o["element"] = i.element;
            o["index"] = i.index;
            o["value"] = i.value;
        } else if (i.kind == InterventionKind::EditToken) {
            o["element"] = i.element;
            o["tokens"] = i.tokens;
        } else {
            o["layer"] = i.layer;
        }
        if (has_head(i.kind)) {
            o["head"] = i.head;
            o["role"] = i.role == AttentionRole::Cross ? QStringLiteral("cross") : QStringLiteral("self");
        }
        if (i.kind == InterventionKind::ScaleHead) o["factor"] = i.factor;
        out.append(o);
    }
    return out;
}

std::vector<Intervention> interventions_from_json(const QJsonValue& value) {
    if (!value.isArray()) throw Error("session key 'interventions' must be an array");
    std::vector<Intervention> out;
    const QJsonArray array = value.toArray();
    for (int i = 0; i < array.size(); ++i) {
        if (!array[i].isObject())
            throw Error(QStringLiteral("session key 'interventions[%1]' must be an object").arg(i).toStdString());
        const QJsonObject o = array[i].toObject();
        Intervention v;
        const QString kind = o.value("kind").toString();
        bool known = false;
        for (const InterventionKind k : kKinds)
            if (intervention_kind_name(k) == kind) {
                v.kind = k;
                known = true;
            }
        if (!known)
            throw bad(i, QStringLiteral("kind"),
                      QStringLiteral("is %1, not one of: ablate-head, scale-head, clear-layer, copy-from-original, "
                                     "edit-input, edit-token, clear-head-cache")
                          .arg(quoted(kind)));
        std::set<QString> allowed{"kind", "step"};
        if (v.kind == InterventionKind::EditInput) allowed.insert({"element", "index", "value"});
        else if (v.kind == InterventionKind::EditToken) allowed.insert({"element", "tokens"});
        else allowed.insert("layer");
        if (has_head(v.kind)) allowed.insert({"head", "role"});
        if (v.kind == InterventionKind::ScaleHead) allowed.insert("factor");
        for (auto it = o.begin(); it != o.end(); ++it)
            if (!allowed.count(it.key()))
                throw bad(i, it.key(), QStringLiteral("is unknown for kind %1").arg(quoted(kind)));
        for (const QString& key : allowed)
            if (key != "role" && !o.contains(key)) throw bad(i, key, QStringLiteral("is missing"));
        v.step = whole(o, "step", i, 1e9);
        if (allowed.count("layer")) v.layer = int(whole(o, "layer", i, 1e6));
        if (allowed.count("head")) v.head = int(whole(o, "head", i, 1e6));
        if (o.contains("role")) {
            const QString role = o.value("role").toString();
            if (role == "cross") v.role = AttentionRole::Cross;
            else if (role != "self")
                throw bad(i, "role", QStringLiteral("is %1, not one of: self, cross").arg(quoted(role)));
        }
        if (allowed.count("factor")) v.factor = finite(o, "factor", i);
        if (allowed.count("element")) v.element = int(whole(o, "element", i, 1e6));
        if (allowed.count("index")) v.index = int(whole(o, "index", i, 1e6));
        if (allowed.count("value")) v.value = finite(o, "value", i);
        if (allowed.count("tokens")) {
            if (!o.value("tokens").isString() || o.value("tokens").toString().isEmpty() ||
                o.value("tokens").toString().size() > 256)
                throw bad(i, "tokens", QStringLiteral("must be a string of 1 to 256 characters"));
            v.tokens = o.value("tokens").toString();
        }
        out.push_back(v);
    }
    return out;
}

}  // namespace stepscope::ui
