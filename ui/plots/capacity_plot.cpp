// State capacity as the engine reports it for the observed layer (StateCapacity), plus ||Z|| from the state norms.
#include "plots/capacity_plot.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QListView>
#include <QSignalBlocker>
#include <QStandardItemModel>
#include <qcustomplot.h>

#include <algorithm>
#include <iterator>

#include "plots/layer_selector.h"
#include "session/insight_records.h"

namespace stepscope::ui {

namespace {

// Whether `kind` declares what quantity `q` plots.
bool has_quantity(CapacityPlot::Quantity q, const AttentionCapabilities& kind) {
    using Q = CapacityPlot::Quantity;
    switch (q) {
        case Q::EffectiveRank: return kind.spectrum;
        case Q::NormalizerNorm:
        case Q::Denominator:
        case Q::MinDenominator: return kind.normalizer;
        case Q::CacheLength: return state_grows(kind);
        case Q::RowEntropy: return kind.cache_entropy;
        case Q::ReadBack: return true;
    }
    return false;
}

// The quantity a run of `kind` starts on when the one chosen is not its own.
CapacityPlot::Quantity first_quantity(const AttentionCapabilities& kind) {
    using Q = CapacityPlot::Quantity;
    for (Q q : {Q::EffectiveRank, Q::RowEntropy, Q::NormalizerNorm, Q::CacheLength})
        if (has_quantity(q, kind)) return q;
    return Q::ReadBack;
}

// "S and Z": what a kind keeps, for the notes.
QString component_names(const AttentionCapabilities& kind) {
    QStringList names;
    for (const StateComponent& c : kind.components) names << QString::fromStdString(c.symbol);
    return names.size() < 2 ? names.join(QString())
                            : names.mid(0, names.size() - 1).join(", ") + " and " + names.last();
}

}  // namespace

CapacityPlot::CapacityPlot(QWidget* parent)
    : TimePlot(tr("State capacity"), QStringLiteral("capacity"), parent),
      selector_(new LayerSelector(/*with_head=*/false)),
      quantity_(new QComboBox) {
    quantity_->addItems({tr("effective rank of S"), tr("‖Z‖"), tr("φ(q)·Z, element shown"),
                         tr("min φ(q)·Z over the batch"), tr("cache length"), tr("row entropy"),
                         tr("stored pairs read back")});
    quantity_->setItemData(0,
                           tr("exp(−Σ pᵢ log pᵢ) with pᵢ = σᵢ / Σⱼ σⱼ, σ the singular values of the head's "
                              "S (D × M): 1 when one direction holds everything, min(D, M) when all are equal"),
                           Qt::ToolTipRole);
    quantity_->setItemData(1, tr("‖Z‖₂ with Z = Σ φ(k): the normaliser linear attention divides by"), Qt::ToolTipRole);
    quantity_->setItemData(2, tr("The denominator φ(q_t)·Z_t (without ε) of the batch element shown"), Qt::ToolTipRole);
    quantity_->setItemData(3,
                           tr("The least φ(q_t)·Z_t over the whole batch: linear attention turns unstable "
                              "where it nears 0"),
                           Qt::ToolTipRole);
    quantity_->setItemData(4, tr("Cached keys (self) or memory elements (cross) of softmax attention"),
                           Qt::ToolTipRole);
    quantity_->setItemData(5, tr("−Σ a log a of each head's softmax weights at a step, in nats"), Qt::ToolTipRole);
    quantity_->setItemData(6,
                           tr("Recall token models: each pair stored so far queried as key+? from a copy of the "
                              "state after the step; the share whose value is the model's answer, and the mean "
                              "p(value). The whole model, not one layer"),
                           Qt::ToolTipRole);
    quantity_->setToolTip(quantity_->itemData(0, Qt::ToolTipRole).toString());
    controls()->addWidget(selector_);
    controls()->addWidget(quantity_);
    controls()->addStretch(1);
    auto changed = [this] {
        quantity_->setToolTip(quantity_->currentData(Qt::ToolTipRole).toString());
        selectionChanged();
    };
    connect(selector_, &LayerSelector::changed, this, changed);
    connect(quantity_, &QComboBox::currentIndexChanged, this, changed);
}

AttentionRole CapacityPlot::role() const { return selector_->role(); }

int CapacityPlot::layer() const { return selector_->layer(); }

CapacityPlot::Quantity CapacityPlot::quantity() const { return Quantity(quantity_->currentIndex()); }

bool CapacityPlot::needsObservation() const {
    return quantity() != Quantity::NormalizerNorm && quantity() != Quantity::CacheLength &&
           quantity() != Quantity::ReadBack;
}

bool CapacityPlot::needsReadBack() const { return quantity() == Quantity::ReadBack; }

bool CapacityPlot::needsSpectrum() const { return quantity() == Quantity::EffectiveRank; }

void CapacityPlot::select(AttentionRole role, int layer, Quantity quantity) {
    {
        const QSignalBlocker blocker(quantity_);
        selector_->select(role, layer);
        quantity_->setCurrentIndex(int(quantity));
    }
    selectionChanged();
}

void CapacityPlot::updateSelectors() {
    const QSignalBlocker blocker(quantity_);
    selector_->fitTo(current_);
    // Only the quantities the run's attention has are offered: the others are hidden and disabled.
    if (current_ && current_->has_run()) {
        const AttentionCapabilities& kind = current_->kind(role());
        const auto& tokens = current_->info().tokens;
        const bool recall = tokens && tokens->task_name() == "recall";
        auto* model = qobject_cast<QStandardItemModel*>(quantity_->model());
        auto* list = qobject_cast<QListView*>(quantity_->view());
        for (int i = 0; i < quantity_->count(); ++i) {
            const Quantity q = Quantity(i);
            const bool offered = q == Quantity::ReadBack ? recall : has_quantity(q, kind);
            if (model) model->item(i)->setEnabled(offered);
            if (list) list->setRowHidden(i, !offered);
        }
    }
    // A run of the other attention kind starts on a quantity it has.
    if (current_ && current_->has_run() && !has_quantity(quantity(), current_->kind(role())))
        quantity_->setCurrentIndex(int(first_quantity(current_->kind(role()))));
    quantity_->setToolTip(quantity_->currentData(Qt::ToolTipRole).toString());
}

void CapacityPlot::rebuild() {
    updateSelectors();
    setSubtitle(tr("layer %1, %2")
                    .arg(layer())
                    .arg(role() == AttentionRole::Cross ? tr("cross attention") : tr("self attention")));
    TimePlot::rebuild();
}

QString CapacityPlot::yLabel() const {
    switch (quantity()) {
        case Quantity::EffectiveRank: return tr("effective rank of S");
        case Quantity::NormalizerNorm: return tr("‖Z‖");
        case Quantity::Denominator: return tr("φ(q)·Z");
        case Quantity::MinDenominator: return tr("min over batch of φ(q)·Z");
        case Quantity::CacheLength: return tr("cached keys");
        case Quantity::RowEntropy: return tr("row entropy (nats)");
        case Quantity::ReadBack: return tr("stored pairs read back");
    }
    return {};
}

QString CapacityPlot::emptyNote() const {
    if (current_ && current_->has_run()) {
        if (role() == AttentionRole::Cross && !current_->decoder()) return tr("Encoders have no cross attention");
        if (quantity() == Quantity::ReadBack) {
            const auto& tokens = current_->info().tokens;
            if (!tokens || tokens->task_name() != "recall") return tr("Token models with the recall task only");
            if (!current_->empty()) return computeNote();
        } else if (!has_quantity(quantity(), current_->kind(role()))) {
            const AttentionCapabilities& kind = current_->kind(role());
            return tr("%1 keeps %2: it has no %3")
                .arg(QString::fromStdString(kind.description), component_names(kind), yLabel());
        }
        if (!current_->empty() && needsObservation()) return computeNote();
    }
    return TimePlot::emptyNote();
}

QString CapacityPlot::notExported() const {
    // Capacity records come while this tab is shown, or computed on demand; the quantity chosen may have none.
    const auto& graphs = currentGraphs();
    return std::any_of(graphs.begin(), graphs.end(), [](QCPGraph* g) { return g->dataCount() > 0; })
               ? QString()
               : tr("nothing computed for its quantity: show its tab to compute it");
}

ViewRequest CapacityPlot::missingObservations() const {
    if (!current_ || current_->empty()) return {};
    const AttentionRole r = role();
    const int l = layer();
    const bool read_back = needsReadBack();
    if (read_back) {
        const auto& tokens = current_->info().tokens;
        if (!tokens || tokens->task_name() != "recall") return {};
    } else if (!needsObservation() || (r == AttentionRole::Cross && !current_->decoder()) ||
               !has_quantity(quantity(), current_->kind(r))) {
        return {};
    }
    const bool spectrum = needsSpectrum();
    auto lacks = [&](const StepRecord& rec) {
        if (read_back) return rec.retrieval.empty();
        const CapacityRecord* c = capacity_of(rec, l, r);
        return !c || (spectrum && c->effective_rank.empty());
    };
    const auto& records = current_->records();
    const auto first = std::find_if(records.begin(), records.end(), lacks);
    if (first == records.end()) return {};
    const auto last =
        std::find_if(std::make_reverse_iterator(records.end()), std::make_reverse_iterator(records.begin()), lacks);
    ViewRequest request;
    request.element = current_->info().observed;
    request.layer = read_back ? -1 : l;
    request.role = r;
    request.first = first->step;
    request.last = last->step;
    request.spectrum = spectrum;
    request.read_back = read_back;
    request.what = yLabel();
    return request;
}

std::vector<TimePlot::Series> CapacityPlot::series(const TraceStore& store) const {
    const AttentionRole r = role();
    const int l = layer();
    const Quantity q = quantity();
    if (q == Quantity::ReadBack) {
        auto read_back = [](bool mean_probability) {
            return [mean_probability](const StepRecord& rec) -> std::optional<double> {
                if (rec.retrieval.empty()) return std::nullopt;
                double sum = 0;
                for (const Retrieval& r : rec.retrieval) sum += mean_probability ? r.probability : r.correct;
                return sum / double(rec.retrieval.size());
            };
        };
        return {{tr("share answered right"), 0, false, read_back(false)},
                {tr("mean p(value)"), 1, false, read_back(true)}};
    }
    if (l >= store.layers() || (r == AttentionRole::Cross && !store.decoder()) || !has_quantity(q, store.kind(r)))
        return {};
    const QString where = tr("L%1 ").arg(l);
    if (q == Quantity::CacheLength)
        return {{where + tr("cache length"), 0, false,
                 [l, r](const StepRecord& rec) -> std::optional<double> {
                     const CapacityRecord* c = capacity_of(rec, l, r);
                     if (c) return c->cache_length;
                     if (l >= int(rec.layers.size())) return std::nullopt;
                     const ModuleNormsView m =
                         r == AttentionRole::Self ? rec.layers[size_t(l)].self : rec.layers[size_t(l)].cross;
                     return m.present ? std::optional<double>(m.cache_length) : std::nullopt;
                 },
                 true}};
    std::vector<Series> out;
    for (int h = 0; h < store.heads(r); ++h) {
        auto value = [l, r, q, h](const StepRecord& rec) -> std::optional<double> {
            auto at = [h](FloatView v) {
                return h < int(v.size()) ? std::optional<double>(v[size_t(h)]) : std::nullopt;
            };
            if (q == Quantity::NormalizerNorm) {
                if (l >= int(rec.layers.size())) return std::nullopt;
                return at(r == AttentionRole::Self ? rec.layers[size_t(l)].self.second
                                                   : rec.layers[size_t(l)].cross.second);
            }
            const CapacityRecord* c = capacity_of(rec, l, r);
            if (!c) return std::nullopt;
            switch (q) {
                case Quantity::EffectiveRank: return at(c->effective_rank);
                case Quantity::Denominator: return at(c->denominator);
                case Quantity::MinDenominator: return at(c->min_denominator);
                default: return at(c->row_entropy);
            }
        };
        out.push_back({where + tr("head %1").arg(h), h, false, value});
    }
    return out;
}

}  // namespace stepscope::ui
