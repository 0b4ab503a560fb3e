// State norms as the engine's observer reports them: ||S||, ||Z|| (linear) or ||K||, ||V||, cache length (full).
#include "plots/state_plot.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>

#include "plots/layer_selector.h"

namespace stepscope::ui {

namespace {

const ModuleNorms& module(const StepRecord& r, int layer, AttentionRole role) {
    static const ModuleNorms none;
    if (layer >= int(r.layers.size())) return none;
    return role == AttentionRole::Self ? r.layers[size_t(layer)].self : r.layers[size_t(layer)].cross;
}

QString symbol(bool linear, StatePlot::Quantity q) {
    if (q == StatePlot::Quantity::CacheLength) return QStringLiteral("cache length");
    if (linear) return q == StatePlot::Quantity::First ? QStringLiteral("‖S‖") : QStringLiteral("‖Z‖");
    return q == StatePlot::Quantity::First ? QStringLiteral("‖K‖") : QStringLiteral("‖V‖");
}

}  // namespace

StatePlot::StatePlot(QWidget* parent)
    : TimePlot(tr("Attention-state norms"), QStringLiteral("state_norms"), parent),
      selector_(new LayerSelector(/*with_head=*/false)),
      quantity_(new QComboBox) {
    quantity_->addItems({tr("‖S‖ / ‖K‖"), tr("‖Z‖ / ‖V‖"), tr("cache length")});
    quantity_->setToolTip(tr("Linear attention: ‖S‖ = ‖Σ φ(k) vᵀ‖, ‖Z‖ = ‖Σ φ(k)‖. "
                             "Full attention: norms of the cached keys K and values V, and the cache length."));
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
    const bool linear = current_->linear(role());
    quantity_->setItemText(0, symbol(linear, Quantity::First) + tr(" per head"));
    quantity_->setItemText(1, symbol(linear, Quantity::Second) + tr(" per head"));
}

void StatePlot::rebuild() {
    updateSelectors();
    // ||S|| grows linearly and ||K|| like a square root: on one linear axis the smaller looks flat,
    // so a mixed comparison starts on a log axis (the user may switch it back).
    const bool mixed = pinned_ && pinned_->has_run() && current_ && current_->has_run() &&
                       pinned_->linear(role()) != current_->linear(role());
    if (mixed && !mixed_kinds_) setLogScale(true);
    mixed_kinds_ = mixed;
    setSubtitle(tr("layer %1, %2").arg(selector_->layer()).arg(role() == AttentionRole::Cross ? tr("cross attention")
                                                                                             : tr("self attention")));
    TimePlot::rebuild();
}

QString StatePlot::yLabel() const {
    const Quantity q = Quantity(quantity_->currentIndex());
    if (q == Quantity::CacheLength) return tr("cached steps");
    QString label = current_ && current_->has_run() ? symbol(current_->linear(role()), q) : symbol(true, q);
    if (pinned_ && pinned_->has_run() && current_ && current_->has_run() &&
        pinned_->linear(role()) != current_->linear(role()))
        label += QStringLiteral(" · pinned ") + symbol(pinned_->linear(role()), q);
    return label + tr(" (Frobenius norm)");
}

QString StatePlot::emptyNote() const {
    if (current_ && current_->has_run()) {
        if (role() == AttentionRole::Cross && !current_->decoder()) return tr("Encoders have no cross attention");
        if (Quantity(quantity_->currentIndex()) == Quantity::CacheLength && current_->linear(role()))
            return tr("Linear attention keeps no cache: its state has a fixed size");
    }
    return TimePlot::emptyNote();
}

std::vector<TimePlot::Series> StatePlot::series(const TraceStore& store) const {
    const AttentionRole r = role();
    const int layer = selector_->layer();
    const Quantity q = Quantity(quantity_->currentIndex());
    const bool linear = store.linear(r);
    if (layer >= store.layers() || (r == AttentionRole::Cross && !store.decoder())) return {};
    const QString where = tr("L%1 ").arg(layer);
    if (q == Quantity::CacheLength) {
        if (linear) return {};
        return {{where + tr("cache length"), 0, false, [layer, r](const StepRecord& rec) {
                     const ModuleNorms& m = module(rec, layer, r);
                     return m.present ? std::optional<double>(m.cache_length) : std::nullopt;
                 }, true}};
    }
    std::vector<Series> out;
    for (int h = 0; h < store.heads(r); ++h) {
        out.push_back({tr("head %1").arg(h), h, false, [layer, r, q, h](const StepRecord& rec) {
                           const ModuleNorms& m = module(rec, layer, r);
                           const std::vector<float>& v = q == Quantity::First ? m.first : m.second;
                           return h < int(v.size()) ? std::optional<double>(v[size_t(h)]) : std::nullopt;
                       }});
    }
    return out;
}

}  // namespace stepscope::ui
