// State norms as the engine's observer reports them, named by the kind's components: ||S||, ||Z|| (linear),
// ||K||, ||V|| and the cache length (full), the delta rules' updates.
#include "plots/state_plot.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>

#include <cmath>
#include <optional>

#include "plots/layer_selector.h"
#include "stepscope/attention_kind.h"

namespace stepscope::ui {

namespace {

ModuleNormsView module(const StepRecord& r, int layer, AttentionRole role) {
    if (layer >= int(r.layers.size())) return {};
    return role == AttentionRole::Self ? r.layers[size_t(layer)].self : r.layers[size_t(layer)].cross;
}

// The delta-rule family's update a quantity plots, none for the state's norms.
std::optional<Update> update_of(StatePlot::Quantity q) {
    switch (q) {
        case StatePlot::Quantity::WriteStrength: return Update::WriteStrength;
        case StatePlot::Quantity::ForgetGate: return Update::ForgetGate;
        case StatePlot::Quantity::PredictionError: return Update::PredictionError;
        default: return std::nullopt;
    }
}

bool is_update(StatePlot::Quantity q) { return update_of(q).has_value(); }

// The component a norm quantity plots, in the kind's order; null for other quantities or past its components.
const StateComponent* component_of(const AttentionCapabilities& kind, StatePlot::Quantity q) {
    const size_t index = q == StatePlot::Quantity::First ? 0 : q == StatePlot::Quantity::Second ? 1 : size_t(-1);
    return index < kind.components.size() ? &kind.components[index] : nullptr;
}

// Before a run the first two are S and Z, the seed example's.
QString symbol(const TraceStore* store, AttentionRole role, StatePlot::Quantity q) {
    if (q == StatePlot::Quantity::CacheLength) return QStringLiteral("cache length");
    if (q == StatePlot::Quantity::WriteStrength) return QStringLiteral("β");
    if (q == StatePlot::Quantity::ForgetGate) return QStringLiteral("α");
    if (q == StatePlot::Quantity::PredictionError) return QStringLiteral("‖v − Sᵀk‖");
    QString name = q == StatePlot::Quantity::First ? QStringLiteral("S") : QStringLiteral("Z");
    if (store && store->has_run())
        if (const StateComponent* c = component_of(store->kind(role), q)) name = QString::fromStdString(c->symbol);
    return QStringLiteral("‖%1‖").arg(name);
}

// Two runs with steps whose states are named differently (S against K): a norm of each on one axis.
bool differ(const TraceStore* a, const TraceStore* b, AttentionRole role) {
    return a && b && !a->empty() && !b->empty() &&
           symbol(a, role, StatePlot::Quantity::First) != symbol(b, role, StatePlot::Quantity::First);
}

}  // namespace

StatePlot::StatePlot(QWidget* parent)
    : TimePlot(tr("Attention-state norms"), QStringLiteral("state_norms"), parent),
      selector_(new LayerSelector(/*with_head=*/false)),
      quantity_(new QComboBox) {
    quantity_->addItems({tr("‖S‖ / ‖K‖"), tr("‖Z‖ / ‖V‖"), tr("cache length"), tr("β (write) per head"),
                         tr("α (forget) per head"), tr("‖v − Sᵀk‖ per head")});
    quantity_->setToolTip(
        tr("Linear attention: ‖S‖ = ‖Σ φ(k) vᵀ‖, ‖Z‖ = ‖Σ φ(k)‖. "
           "Full attention: norms of the cached keys K and values V, and the cache length.\n"
           "The delta rules write β (v − Sᵀk) at key k: β is how strongly each step writes, "
           "‖v − Sᵀk‖ how much the memory failed to predict v;\n"
           "gated kinds first multiply the state by the forget gate α."));
    controls()->addWidget(selector_);
    controls()->addWidget(quantity_);
    controls()->addStretch(1);
    auto changed = [this] { selectionChanged(); };
    connect(selector_, &LayerSelector::changed, this, changed);
    connect(quantity_, &QComboBox::currentIndexChanged, this, changed);
}

AttentionRole StatePlot::role() const { return selector_->role(); }

void StatePlot::select(AttentionRole role, int layer, Quantity quantity) {
    {
        const QSignalBlocker blocker(quantity_);
        selector_->select(role, layer);
        quantity_->setCurrentIndex(int(quantity));
    }
    selectionChanged();
}

void StatePlot::updateSelectors() {
    const QSignalBlocker blocker(quantity_);
    selector_->fitTo(current_);
    if (!current_ || !current_->has_run()) return;
    // Each norm's tooltip says what its component holds, as the kind describes it.
    const AttentionCapabilities& kind = current_->kind(role());
    for (const Quantity q : {Quantity::First, Quantity::Second}) {
        quantity_->setItemText(int(q), symbol(current_, role(), q) + tr(" per head"));
        const StateComponent* c = component_of(kind, q);
        quantity_->setItemData(int(q), c ? QString::fromStdString(c->description) : QString(), Qt::ToolTipRole);
    }
}

void StatePlot::rebuild() {
    updateSelectors();
    // ||S|| grows linearly and ||K|| like a square root: on one linear axis the smaller looks flat,
    // so a mixed comparison starts on a log axis (the user may switch it back).
    const bool mixed = differ(pinned_, current_, role());
    if (mixed && !mixed_kinds_) setLogScale(true);
    mixed_kinds_ = mixed;
    setSubtitle(tr("layer %1, %2")
                    .arg(selector_->layer())
                    .arg(role() == AttentionRole::Cross ? tr("cross attention") : tr("self attention")));
    TimePlot::rebuild();
}

QString StatePlot::yLabel() const {
    const Quantity q = Quantity(quantity_->currentIndex());
    if (q == Quantity::CacheLength) return tr("cached steps");
    if (q == Quantity::WriteStrength) return tr("β, write strength");
    if (q == Quantity::ForgetGate) return tr("α, forget gate");
    if (q == Quantity::PredictionError) return tr("‖v − Sᵀk‖, prediction error");
    QString label = symbol(current_, role(), q);
    if (differ(pinned_, current_, role())) label += QStringLiteral(" · dashed ") + symbol(pinned_, role(), q);
    return label + tr(" (Frobenius norm)");
}

QString StatePlot::emptyNote() const {
    if (current_ && current_->has_run()) {
        if (role() == AttentionRole::Cross && !current_->decoder()) return tr("Encoders have no cross attention");
        const Quantity q = Quantity(quantity_->currentIndex());
        const AttentionCapabilities& kind = current_->kind(role());
        const QString description = QString::fromStdString(kind.description);
        if (q == Quantity::CacheLength && !state_grows(kind))
            return tr("%1 keeps no cache: its state has a fixed size").arg(description);
        if ((q == Quantity::First || q == Quantity::Second) && !component_of(kind, q))
            return tr("%1 keeps only %2").arg(description, symbol(current_, role(), Quantity::First));
        if (is_update(q))
            return tr("%1 reports no %2: the delta-rule kinds (delta, gated-delta, gated-linear) do")
                .arg(description, symbol(nullptr, role(), q));
    }
    return TimePlot::emptyNote();
}

std::vector<TimePlot::Series> StatePlot::series(const TraceStore& store) const {
    const AttentionRole r = role();
    const int layer = selector_->layer();
    const Quantity q = Quantity(quantity_->currentIndex());
    if (layer >= store.layers() || (r == AttentionRole::Cross && !store.decoder())) return {};
    const AttentionCapabilities& kind = store.kind(r);
    const QString where = tr("L%1 ").arg(layer);
    if (q == Quantity::CacheLength) {
        if (!state_grows(kind)) return {};
        return {{where + tr("cache length"), 0, false,
                 [layer, r](const StepRecord& rec) {
                     const ModuleNormsView m = module(rec, layer, r);
                     return m.present ? std::optional<double>(m.cache_length) : std::nullopt;
                 },
                 true}};
    }
    if (((q == Quantity::First || q == Quantity::Second) && !component_of(kind, q)) ||
        (q == Quantity::WriteStrength && !kind.write_strength) || (q == Quantity::ForgetGate && !kind.forget_gate) ||
        (q == Quantity::PredictionError && !kind.prediction_error))
        return {};
    std::vector<Series> out;
    const int heads = store.heads(r);
    if (const std::optional<Update> update = update_of(q)) {
        for (int h = 0; h < heads; ++h)
            out.push_back({tr("head %1").arg(h), h, false, [layer, heads, h, u = int(*update)](const StepRecord& rec) {
                               const size_t i = (size_t(layer) * kUpdates + size_t(u)) * size_t(heads) + size_t(h);
                               return i < rec.updates.size() && !std::isnan(rec.updates[i])
                                          ? std::optional<double>(rec.updates[i])
                                          : std::nullopt;
                           }});
        return out;
    }
    for (int h = 0; h < heads; ++h) {
        out.push_back({tr("head %1").arg(h), h, false, [layer, r, q, h](const StepRecord& rec) {
                           const ModuleNormsView m = module(rec, layer, r);
                           const FloatView v = q == Quantity::First ? m.first : m.second;
                           return h < int(v.size()) ? std::optional<double>(v[size_t(h)]) : std::nullopt;
                       }});
    }
    return out;
}

}  // namespace stepscope::ui
