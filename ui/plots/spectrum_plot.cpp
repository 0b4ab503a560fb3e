// The spectrum of S as the engine computes it (StateCapacity::singular_values), one curve per head.
#include "plots/spectrum_plot.h"

#include <QHBoxLayout>
#include <qcustomplot.h>

#include "plots/layer_selector.h"
#include "plots/plot_style.h"
#include "session/insight_records.h"

namespace stepscope::ui {

SpectrumPlot::SpectrumPlot(QWidget* parent)
    : PlotView(tr("Spectrum of S"), QStringLiteral("spectrum"), parent),
      selector_(new LayerSelector(/*with_head=*/false)) {
    controls()->addWidget(selector_);
    controls()->addStretch(1);
    setToolTip(tr("Singular values σ₁ ≥ σ₂ ≥ … of each head's state S = Σ φ(k) vᵀ (D × M) after the viewed step. "
                  "Effective rank (State capacity view): exp(−Σ pᵢ log pᵢ), pᵢ = σᵢ / Σⱼ σⱼ."));
    connect(selector_, &LayerSelector::changed, this, [this] {
        follow();
        emit needsReplot();
    });
    QCustomPlot* p = plot();
    p->xAxis->setLabel(tr("index i (descending)"));
    p->yAxis->setLabel(tr("singular value σᵢ of S (log scale)"));
    p->yAxis->setScaleType(QCPAxis::stLogarithmic);
    p->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    p->yAxis->setNumberFormat(QStringLiteral("eb"));
    p->yAxis->setNumberPrecision(0);
    note_ = add_note(p);
}

AttentionRole SpectrumPlot::role() const { return selector_->role(); }

int SpectrumPlot::layer() const { return selector_->layer(); }

void SpectrumPlot::select(AttentionRole role, int layer) {
    selector_->select(role, layer);
    emit needsReplot();
}

void SpectrumPlot::rebuild() {
    selector_->fitTo(current_);
    emit needsReplot();
}

void SpectrumPlot::appendFrom(int) { emit needsReplot(); }

void SpectrumPlot::setViewStep(int64_t step) {
    view_step_ = step;
    emit needsReplot();
}

int SpectrumPlot::draw(const TraceStore& store, bool pinned) {
    const StepRecord* record = store.at_step(view_step_);
    const CapacityRecord* c = record ? capacity_of(*record, layer(), role()) : nullptr;
    if (!c || c->rank == 0) return 0;
    QCustomPlot* p = plot();
    for (int h = 0; h < c->heads; ++h) {
        QCPGraph* graph = p->addGraph();
        QPen pen(pinned ? pinned_color(h) : series_color(h), pinned ? 1.4 : 1.6);
        if (pinned) pen.setStyle(Qt::DashLine);
        graph->setPen(pen);
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 3));
        graph->setName(pinned ? (h == 0 ? tr("pinned: %1 (dashed)").arg(store.info().label) : QString())
                              : tr("head %1").arg(h));
        if (pinned && h > 0) graph->removeFromLegend();
        QVector<double> keys, values;
        for (int i = 0; i < c->rank; ++i) {
            const float sigma = c->singular_values[size_t(h) * c->rank + i];
            // A log axis has no place for the exact zeros of a rank-deficient S.
            if (sigma > 0) {
                keys.push_back(i + 1);
                values.push_back(sigma);
            }
        }
        graph->setData(keys, values, true);
    }
    return c->heads;
}

QString SpectrumPlot::csv() const {
    // The current run's singular values at the viewed step: one row per index, one column per head.
    const StepRecord* record = current_ ? current_->at_step(view_step_) : nullptr;
    const CapacityRecord* c = record ? capacity_of(*record, layer(), role()) : nullptr;
    if (!c || c->rank == 0) return {};
    QString out = QStringLiteral("index");
    for (int h = 0; h < c->heads; ++h) out += QStringLiteral(",head %1").arg(h);
    out += '\n';
    for (int i = 0; i < c->rank; ++i) {
        out += QString::number(i + 1);
        for (int h = 0; h < c->heads; ++h)
            out += ',' + QString::number(c->singular_values[size_t(h) * c->rank + i], 'g', 7);
        out += '\n';
    }
    return out;
}

void SpectrumPlot::refresh() {
    QCustomPlot* p = plot();
    p->clearGraphs();
    setSubtitle(tr("layer %1, %2, step %3")
                    .arg(layer())
                    .arg(role() == AttentionRole::Cross ? tr("cross") : tr("self"))
                    .arg(view_step_));
    if (pinned_ && pinned_->has_run()) draw(*pinned_, true);
    heads_shown_ = current_ && current_->has_run() ? draw(*current_, false) : 0;
    QString note;
    if (!current_ || current_->empty()) note = tr("Press Step (F10) to run the model");
    else if (role() == AttentionRole::Cross && !current_->decoder()) note = tr("Encoders have no cross attention");
    else if (!current_->linear(role())) note = tr("Softmax attention keeps a key/value cache, not an S to decompose");
    else if (heads_shown_ == 0)
        note = tr("No spectrum recorded at step %1:\nit is recorded while this view shows the layer").arg(view_step_);
    note_->setText(note);
    note_->setVisible(!note.isEmpty());
    if (following() && heads_shown_ > 0) p->rescaleAxes();
    p->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace stepscope::ui
