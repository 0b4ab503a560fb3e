// Series over steps: appended in batches, scaled to the data unless the user has zoomed, a cursor at the viewed step.
#include "time_plot.h"

#include <qcustomplot.h>

#include <algorithm>
#include <limits>

#include "plot_style.h"

namespace stepscope::ui {

namespace {
constexpr double kMinSteps = 10;  // an x range never narrower than this, so a first step is visible
}

TimePlot::TimePlot(const QString& title, const QString& file_stem, QWidget* parent)
    : PlotView(title, file_stem, parent) {
    QCustomPlot* p = plot();
    p->xAxis->setLabel(QStringLiteral("step"));
    cursor_ = new QCPItemStraightLine(p);
    cursor_->setPen(QPen(QColor(90, 90, 90), 1, Qt::DashLine));
    cursor_->setVisible(false);
    divergence_ = new QCPItemStraightLine(p);
    divergence_->setPen(QPen(QColor(200, 30, 30), 1.2, Qt::DotLine));
    divergence_->setVisible(false);
    note_ = add_note(p);
}

void TimePlot::markDivergence(std::optional<int64_t> step) {
    divergence_->setVisible(step.has_value());
    if (!step) return;
    divergence_->point1->setCoords(double(*step), 0);
    divergence_->point2->setCoords(double(*step), 1);
    emit needsReplot();
}

QString TimePlot::emptyNote() const { return tr("Press Step (F10) to run the model"); }

void TimePlot::selectionChanged() {
    rebuild();
    follow();
}

void TimePlot::setLogScale(bool log) {
    log_scale_ = log;
    QCPAxis* axis = plot()->yAxis;
    axis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (log) axis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    axis->setNumberFormat(log ? QStringLiteral("eb") : QStringLiteral("gbd"));
    axis->setNumberPrecision(log ? 0 : 6);
    follow();
    emit needsReplot();
}

QCPGraph* TimePlot::addGraph(const Series& s, bool pinned) {
    QCustomPlot* p = plot();
    QCPGraph* graph = p->addGraph(p->xAxis, s.right_axis ? p->yAxis2 : p->yAxis);
    QPen pen(pinned ? pinned_color(s.color) : series_color(s.color), pinned ? 1.6 : 1.4);
    if (pinned) pen.setStyle(Qt::DashLine);
    graph->setPen(pen);
    graph->setName(s.name);
    graph->setAdaptiveSampling(true);
    return graph;
}

void TimePlot::fill(QCPGraph* graph, const Series& s, const TraceStore& store, int first) {
    QVector<double> keys, values;
    const auto& records = store.records();
    keys.reserve(int(records.size()) - first);
    values.reserve(int(records.size()) - first);
    for (size_t i = size_t(first); i < records.size(); ++i) {
        if (const auto v = s.value(records[i])) {
            keys.push_back(double(records[i].step));
            values.push_back(*v);
        }
    }
    graph->addData(keys, values, true);
}

void TimePlot::rebuild() {
    QCustomPlot* p = plot();
    p->clearGraphs();
    graphs_.clear();
    series_.clear();
    if (pinned_ && pinned_->has_run()) {
        bool first = true;
        for (const Series& s : series(*pinned_)) {
            QCPGraph* graph = addGraph(s, true);
            fill(graph, s, *pinned_, 0);
            // One legend entry stands for the whole pinned run.
            if (first) graph->setName(tr("pinned: %1 (dashed)").arg(pinned_->info().label));
            else graph->removeFromLegend();
            first = false;
        }
    }
    if (current_ && current_->has_run()) {
        series_ = series(*current_);
        for (const Series& s : series_) {
            graphs_.push_back(addGraph(s, false));
            fill(graphs_.back(), s, *current_, 0);
        }
    }
    p->yAxis->setLabel(yLabel());
    p->yAxis2->setLabel(y2Label());
    p->yAxis2->setVisible(std::any_of(series_.begin(), series_.end(), [](const Series& s) { return s.right_axis; }));
    emit needsReplot();
}

void TimePlot::appendFrom(int first) {
    if (!current_) return;
    for (size_t i = 0; i < graphs_.size(); ++i) fill(graphs_[i], series_[i], *current_, first);
    emit needsReplot();
}

void TimePlot::setViewStep(int64_t step) {
    const bool scrubbed = current_ && !current_->empty() && step < current_->last_step();
    cursor_->point1->setCoords(double(step), 0);
    cursor_->point2->setCoords(double(step), 1);
    cursor_->setVisible(scrubbed);
    emit needsReplot();
}

double TimePlot::lowestValue(QCPAxis* axis) const {
    double lowest = std::numeric_limits<double>::infinity();
    for (int i = 0; i < plot()->graphCount(); ++i) {
        QCPGraph* graph = plot()->graph(i);
        bool found = false;
        const QCPRange range = graph->getValueRange(found);
        if (found && graph->valueAxis() == axis) lowest = std::min(lowest, range.lower);
    }
    return lowest;
}

void TimePlot::fitAxes() {
    QCustomPlot* p = plot();
    bool any = false;
    for (int i = 0; i < p->graphCount(); ++i) any = any || !p->graph(i)->data()->isEmpty();
    const double base = current_ ? double(current_->base_step()) : 0;
    if (!any) {
        p->xAxis->setRange(base, base + kMinSteps);
        return;
    }
    p->rescaleAxes();
    const QCPRange x = p->xAxis->range();
    p->xAxis->setRange(std::min(x.lower, base), std::max(x.upper, std::min(x.lower, base) + kMinSteps));
    for (QCPAxis* axis : {p->yAxis, p->yAxis2}) {
        if (axis->scaleType() == QCPAxis::stLogarithmic) continue;
        QCPRange y = axis->range();
        const double margin = std::max(y.size() * 0.06, std::max(1e-6, std::abs(y.upper) * 0.02));
        // Norms, latencies and bytes are never negative: their axis starts at zero, not below.
        const double lower = y.lower - margin;
        axis->setRange(lowestValue(axis) >= 0 ? std::max(0.0, lower) : lower, y.upper + margin);
    }
}

void TimePlot::refresh() {
    const bool has_current =
        std::any_of(graphs_.begin(), graphs_.end(), [](QCPGraph* g) { return !g->data()->isEmpty(); });
    const bool has_pinned = pinned_ && pinned_->has_run() && !pinned_->empty();
    note_->setText(emptyNote());
    note_->setVisible(!has_current && !has_pinned);
    if (following()) fitAxes();
    plot()->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace stepscope::ui
