// The spectrum of S as the engine computes it (StateCapacity::singular_values), one curve per head.
#include "plots/spectrum_plot.h"

#include <QHBoxLayout>
#include <QToolTip>
#include <qcustomplot.h>

#include <cmath>

#include "plots/layer_selector.h"
#include "plots/plot_style.h"
#include "session/insight_records.h"

namespace stepscope::ui {

SpectrumPlot::SpectrumPlot(QWidget* parent)
    : PlotView(tr("Spectrum of S"), QStringLiteral("spectrum"), parent),
      selector_(new LayerSelector(/*with_head=*/false)) {
    controls()->addWidget(selector_);
    controls()->addStretch(1);
    setToolTip(
        tr("Singular values σ₁ ≥ σ₂ ≥ … of each head's state S = Σ φ(k) vᵀ (D × M) after the viewed step. "
           "Effective rank (State capacity view): exp(−Σ pᵢ log pᵢ), pᵢ = σᵢ / Σⱼ σⱼ."));
    connect(selector_, &LayerSelector::changed, this, [this] {
        follow();
        emit needsReplot();
    });
    QCustomPlot* p = plot();
    p->xAxis->setLabel(tr("index i (descending)"));
    // The index is a whole number: ticks at integers only.
    QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
    ticker->setTickStep(1);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    p->xAxis->setTicker(ticker);
    p->yAxis->setLabel(tr("singular value σᵢ of S (log scale)"));
    p->yAxis->setScaleType(QCPAxis::stLogarithmic);
    p->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new LogTicker));
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
    const std::optional<StepRecord> record = store.at_step(view_step_);
    const CapacityRecord* c = record ? capacity_of(*record, layer(), role()) : nullptr;
    if (!c || c->rank == 0) return 0;
    QCustomPlot* p = plot();
    for (int h = 0; h < c->heads; ++h) {
        QCPGraph* graph = p->addGraph();
        QPen pen(pinned ? pinned_color(h) : series_color(h), pinned ? 1.4 : 1.6);
        if (pinned) pen.setStyle(Qt::DashLine);
        graph->setPen(pen);
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 3));
        graph->setName(pinned ? (h == 0 ? tr("%1 (dashed)").arg(overlays_.front().name.section(':', 0, 0)) : QString())
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
    rank_shown_ = std::max(rank_shown_, c->rank);
    return c->heads;
}

QString SpectrumPlot::csv() const {
    // The current run's singular values at the viewed step: one row per index, one column per head.
    const std::optional<StepRecord> record = current_ ? current_->at_step(view_step_) : std::nullopt;
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
    rank_shown_ = 0;
    setSubtitle(tr("layer %1, %2, step %3")
                    .arg(layer())
                    .arg(role() == AttentionRole::Cross ? tr("cross") : tr("self"))
                    .arg(view_step_));
    if (pinned_ && pinned_->has_run()) draw(*pinned_, true);
    heads_shown_ = current_ && current_->has_run() ? draw(*current_, false) : 0;
    QString note;
    if (!current_ || current_->empty()) note = tr("Press Step (F10) to run the model");
    else if (role() == AttentionRole::Cross && !current_->decoder()) note = tr("Encoders have no cross attention");
    else if (!current_->kind(role()).spectrum)
        note =
            tr("%1 declares no spectrum of its state").arg(QString::fromStdString(current_->kind(role()).description));
    else if (view_step_ <= current_->base_step())
        note = tr("S is empty before the first step: step, or scrub to a later step");
    else if (heads_shown_ == 0)
        note = tr("Spectrum of S at step %1, batch element %2:\n%3")
                   .arg(view_step_)
                   .arg(current_->info().observed)
                   .arg(computeNote());
    note_->setText(note);
    note_->setVisible(!note.isEmpty());
    if (following() && heads_shown_ > 0) {
        p->rescaleAxes();
        // Half an index either side, so the first and last points are not cut by the frame.
        p->xAxis->setRange(0.5, rank_shown_ + 0.5);
        const QCPRange y = p->yAxis->range();
        if (y.lower > 0) p->yAxis->setRange(y.lower / 1.25, y.upper * 1.25);
    }
    // The legend lists the heads as the graphs come and go.
    fitDecorations();
    p->replot(QCustomPlot::rpQueuedReplot);
}

QString SpectrumPlot::notExported() const {
    const std::optional<StepRecord> record = current_ ? current_->at_step(view_step_) : std::nullopt;
    const CapacityRecord* c = record ? capacity_of(*record, layer(), role()) : nullptr;
    return c && c->rank > 0 ? QString() : tr("no singular values at the viewed step: show its tab on a linear layer");
}

ViewRequest SpectrumPlot::missingObservations() const {
    if (!current_ || current_->empty() || !current_->kind(role()).spectrum) return {};
    if (role() == AttentionRole::Cross && !current_->decoder()) return {};
    const std::optional<StepRecord> record = current_->at_step(view_step_);
    const CapacityRecord* c = record ? capacity_of(*record, layer(), role()) : nullptr;
    if (!record || (c && c->rank > 0)) return {};
    ViewRequest request;
    request.element = current_->info().observed;
    request.layer = layer();
    request.role = role();
    request.first = request.last = view_step_;
    request.spectrum = true;
    request.what = tr("spectrum of S");
    return request;
}

QString SpectrumPlot::hoverText(const QPoint& position) const {
    QCustomPlot* p = plot();
    if (!p->axisRect()->rect().contains(position)) return {};
    double best = 16;
    QString text;
    for (int g = 0; g < p->graphCount(); ++g) {
        QCPGraph* graph = p->graph(g);
        for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it) {
            const double d = std::hypot(p->xAxis->coordToPixel(it->key) - position.x(),
                                        p->yAxis->coordToPixel(it->value) - position.y());
            if (d >= best) continue;
            best = d;
            // Graphs of the pinned run come first and are named on their first head only.
            const int heads = heads_shown_ > 0 ? heads_shown_ : p->graphCount();
            const bool pinned = g < p->graphCount() - heads_shown_;
            const int head = pinned ? g : g - (p->graphCount() - heads);
            text = tr("%1head %2\nσ%3 = %4")
                       .arg(pinned ? overlays_.front().name.section(':', 0, 0) + QStringLiteral(", ") : QString())
                       .arg(head)
                       .arg(qint64(it->key))
                       .arg(QLocale::c().toString(it->value, 'g', 6));
        }
    }
    return text;
}

void SpectrumPlot::hover(const QPoint& position) {
    const QString text = hoverText(position);
    if (text.isEmpty()) QToolTip::hideText();
    else QToolTip::showText(plot()->mapToGlobal(position), text, plot());
}

}  // namespace stepscope::ui
