// The head grid: one colour map holding every layer x head thumbnail, the gaps between them blank.
#include "plots/head_grid_plot.h"

#include <QToolTip>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "plots/plot_style.h"

namespace stepscope::ui {

namespace {
// The query steps (and keys) a thumbnail shows: the newest up to the viewed step.
constexpr int kThumbnailSteps = 24;
constexpr int kGap = 1;  // blank cells between thumbnails
}  // namespace

HeadGridPlot::HeadGridPlot(QWidget* parent)
    : PlotView(tr("Attention heads, every layer"), QStringLiteral("head_grid"), parent) {
    setToolTip(tr("Each thumbnail is one layer's head: its self-attention weights over the last %1 steps up to the "
                  "viewed one (rows: query steps, columns: key steps), on the heatmap's log colour scale. "
                  "Click one to open it in the heatmap. Linear attention's implicit weights exist for the layer "
                  "the heatmap shows only.")
                   .arg(kThumbnailSteps));
    QCustomPlot* p = plot();
    p->legend->setVisible(false);
    p->setInteractions(QCP::Interactions());  // a fixed grid: clicks choose a head
    p->yAxis->setRangeReversed(true);         // layer 0 at the top, query steps down
    p->xAxis->setLabel(tr("head"));
    p->yAxis->setLabel(tr("layer"));
    for (QCPAxis* axis : {p->xAxis, p->yAxis}) {
        axis->grid()->setVisible(false);
        axis->setSubTicks(false);
    }
    map_ = new QCPColorMap(p->xAxis, p->yAxis);
    map_->setInterpolate(false);
    scale_ = new QCPColorScale(p);
    p->plotLayout()->take(p->legend);
    QCPAxisRect* axes = p->axisRect();
    p->plotLayout()->take(axes);
    p->plotLayout()->simplify();
    auto* row = new QCPLayoutGrid;
    p->plotLayout()->addElement(1, 0, row);
    row->addElement(0, 0, axes);
    row->addElement(0, 1, scale_);
    row->setColumnStretchFactor(1, 0.001);
    scale_->setType(QCPAxis::atRight);
    scale_->setBarWidth(12);
    scale_->setDataScaleType(QCPAxis::stLogarithmic);
    scale_->axis()->setTicker(QSharedPointer<QCPAxisTicker>(new LogTicker));
    scale_->axis()->setLabel(tr("weight (log scale)"));
    map_->setColorScale(scale_);
    QCPColorGradient gradient = viridis_gradient();
    gradient.setNanHandling(QCPColorGradient::nhTransparent);
    scale_->setGradient(gradient);
    auto* margins = new QCPMarginGroup(p);
    axes->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    note_ = add_note(p);
    connect(p, &QCustomPlot::mousePress, this, [this](QMouseEvent* event) {
        const auto [layer, head] = headAt(event->position().toPoint());
        if (layer >= 0) emit headChosen(layer, head);
    });
}

QString HeadGridPlot::notExported() const { return shown_ > 0 ? QString() : tr("no weights recorded"); }

void HeadGridPlot::rebuild() { markDirty(); }

void HeadGridPlot::appendFrom(int) { markDirty(); }

void HeadGridPlot::setViewStep(int64_t step) {
    if (step == view_step_) return;
    view_step_ = step;
    markDirty();
}

void HeadGridPlot::refresh() {
    if (!takeDirty()) return;
    QCustomPlot* p = plot();
    map_->data()->clear();
    shown_ = 0;
    QString note;
    if (!current_ || current_->empty()) note = tr("Press Step (F10) to run the model");
    layers_ = current_ && current_->has_run() ? current_->layers() : 0;
    heads_ = current_ && current_->has_run() ? current_->heads(AttentionRole::Self) : 0;
    const int64_t last = current_ ? std::min<int64_t>(view_step_, current_->last_step()) : 0;
    const int64_t first = std::max<int64_t>(current_ ? current_->base_step() + 1 : 1, last - kThumbnailSteps + 1);
    rows_ = int(std::max<int64_t>(0, last - first + 1));
    columns_ = rows_;  // a square window of steps: keys first..last
    if (note.isEmpty() && (rows_ == 0 || layers_ == 0 || heads_ == 0)) note = tr("No steps up to the viewed one");
    setSubtitle(note.isEmpty() ? tr("steps %1 to %2").arg(first).arg(last) : QString());
    if (!note.isEmpty()) {
        note_->setText(note);
        note_->setVisible(true);
        scale_->setVisible(false);
        p->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    const int cell_w = columns_ + kGap, cell_h = rows_ + kGap;
    const int width = heads_ * cell_w - kGap, height = layers_ * cell_h - kGap;
    map_->data()->setSize(width, height);
    // Cell (k, q) at coordinates (k, q): head h spans [h·cell_w, h·cell_w + columns_).
    map_->data()->setRange(QCPRange(0, width - 1), QCPRange(0, height - 1));
    map_->data()->fill(std::numeric_limits<double>::quiet_NaN());
    std::vector<bool> any(size_t(layers_) * size_t(heads_), false);
    double lowest = std::numeric_limits<double>::infinity(), highest = 0;
    for (int64_t s = first; s <= last; ++s) {
        const std::optional<StepRecord> rec = current_->at_step(s);
        if (!rec) continue;
        const int q = int(s - first);
        for (const AttentionRows& a : rec->attention) {
            if (a.role != AttentionRole::Self || a.layer >= layers_) continue;
            for (int h = 0; h < std::min(a.heads, heads_); ++h)
                for (int j = 0; j < a.keys; ++j) {
                    // Key index j is step j + 1; the window's keys are steps first..last.
                    const int64_t key_step = a.first_key + j + 1;
                    if (key_step < first || key_step > last) continue;
                    const double w = a.weights[size_t(h) * size_t(a.keys) + size_t(j)];
                    if (!(w > 0)) continue;
                    map_->data()->setCell(h * cell_w + int(key_step - first), a.layer * cell_h + q, w);
                    any[size_t(a.layer) * size_t(heads_) + size_t(h)] = true;
                    lowest = std::min(lowest, w);
                    highest = std::max(highest, w);
                }
        }
    }
    shown_ = int(std::count(any.begin(), any.end(), true));
    note_->setVisible(shown_ == 0);
    if (shown_ == 0) note_->setText(tr("No weights recorded for steps %1 to %2").arg(first).arg(last));
    scale_->setVisible(shown_ > 0);
    if (shown_ > 0) {
        if (highest <= lowest) lowest = highest / 10;
        scale_->setDataRange(QCPRange(lowest, highest));
    }
    // Ticks at the thumbnails' centres, named by head and layer.
    QSharedPointer<QCPAxisTickerText> heads(new QCPAxisTickerText);
    for (int h = 0; h < heads_; ++h) heads->addTick(h * cell_w + (columns_ - 1) / 2.0, QString::number(h));
    QSharedPointer<QCPAxisTickerText> layers(new QCPAxisTickerText);
    for (int l = 0; l < layers_; ++l) layers->addTick(l * cell_h + (rows_ - 1) / 2.0, QString::number(l));
    p->xAxis->setTicker(heads);
    p->yAxis->setTicker(layers);
    p->xAxis->setRange(-0.5, width - 0.5);
    p->yAxis->setRange(-0.5, height - 0.5);
    p->replot(QCustomPlot::rpQueuedReplot);
}

std::pair<int, int> HeadGridPlot::headAt(const QPoint& position) const {
    if (rows_ == 0 || !plot()->axisRect()->rect().contains(position)) return {-1, -1};
    const double x = plot()->xAxis->pixelToCoord(position.x()) + 0.5;
    const double y = plot()->yAxis->pixelToCoord(position.y()) + 0.5;
    const int cell_w = columns_ + kGap, cell_h = rows_ + kGap;
    const int head = int(std::floor(x / cell_w)), layer = int(std::floor(y / cell_h));
    if (x < 0 || y < 0 || head >= heads_ || layer >= layers_) return {-1, -1};
    return {layer, head};
}

void HeadGridPlot::hover(const QPoint& position) {
    const auto [layer, head] = headAt(position);
    if (layer < 0) QToolTip::hideText();
    else
        QToolTip::showText(plot()->mapToGlobal(position), tr("layer %1, head %2: click to open").arg(layer).arg(head),
                           plot());
}

QString HeadGridPlot::csv() const {
    // The grid as drawn: one row per (layer, query step), one column per (head, key step).
    if (shown_ == 0) return {};
    QCPColorMapData* data = map_->data();
    QString out = QStringLiteral("layer,query");
    const int cell_w = columns_ + kGap, cell_h = rows_ + kGap;
    for (int h = 0; h < heads_; ++h)
        for (int k = 0; k < columns_; ++k) out += QStringLiteral(",h%1 key %2").arg(h).arg(k);
    out += '\n';
    for (int l = 0; l < layers_; ++l)
        for (int q = 0; q < rows_; ++q) {
            out += QStringLiteral("%1,%2").arg(l).arg(q);
            for (int h = 0; h < heads_; ++h)
                for (int k = 0; k < columns_; ++k) {
                    const double w = data->cell(h * cell_w + k, l * cell_h + q);
                    out += ',' + (std::isnan(w) ? QString() : QString::number(w, 'g', 9));
                }
            out += '\n';
        }
    return out;
}

}  // namespace stepscope::ui
