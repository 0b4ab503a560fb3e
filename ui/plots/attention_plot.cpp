// The heatmap of recorded attention weights: rows are query steps, columns key steps (or memory elements).
#include "plots/attention_plot.h"

#include <QHBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "plots/layer_selector.h"
#include "plots/plot_style.h"
#include "plots/token_ticker.h"

namespace stepscope::ui {

AttentionPlot::AttentionPlot(QWidget* parent)
    : PlotView(tr("Attention weights"), QStringLiteral("attention"), parent),
      selector_(new LayerSelector(/*with_head=*/true)) {
    controls()->addWidget(selector_);
    controls()->addStretch(1);
    connect(selector_, &LayerSelector::changed, this, [this] {
        dirty_ = true;
        emit needsReplot();
    });

    QCustomPlot* p = plot();
    p->legend->setVisible(false);
    p->axisRect()->setupFullAxesBox(true);
    p->yAxis->setRangeReversed(true);  // query steps run down, as in an attention matrix
    p->yAxis->setLabel(tr("query step"));
    // Steps and memory elements are whole numbers: ticks at integer multiples only, with the
    // token fed at that step when a token model runs.
    for (QCPAxis* axis : {p->xAxis, p->yAxis}) {
        QSharedPointer<QCPAxisTickerFixed> ticker(new TokenStepTicker<QCPAxisTickerFixed>(
            [this] { return current_; }, QStringLiteral(" ")));
        ticker->setTickStep(1);
        ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        axis->setTicker(ticker);
    }
    map_ = new QCPColorMap(p->xAxis, p->yAxis);
    scale_ = new QCPColorScale(p);
    // No legend: the colour scale stands right of the map instead, in a row of its own under the
    // title, so the title keeps the plot's whole width.
    p->plotLayout()->take(p->legend);
    p->legend->setVisible(false);
    QCPAxisRect* axes = p->axisRect();
    p->plotLayout()->take(axes);
    p->plotLayout()->simplify();
    auto* row = new QCPLayoutGrid;
    p->plotLayout()->addElement(1, 0, row);
    row->addElement(0, 0, axes);
    row->addElement(0, 1, scale_);
    row->setColumnStretchFactor(1, 0.001);
    scale_->setType(QCPAxis::atRight);
    scale_->setBarWidth(14);
    // Weights span orders of magnitude (a first step attends only to itself): a log scale shows them all.
    map_->setColorScale(scale_);
    // After setColorScale, which hands the scale's gradient to the map. Cells without a weight
    // (future keys, masked memory) stay transparent, so white: viridis never reaches white.
    signed_scale_ = true;
    useSignedScale(false);
    map_->setInterpolate(false);
    auto* margins = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    note_ = add_note(p);
    caption_ = new QCPItemText(p);
    caption_->position->setType(QCPItemPosition::ptAxisRectRatio);
    caption_->setPositionAlignment(Qt::AlignRight | Qt::AlignTop);
    caption_->position->setCoords(0.99, 0.01);
    caption_->setTextAlignment(Qt::AlignRight);
    caption_->setBrush(QBrush(QColor(255, 255, 255, 215)));
    caption_->setPadding(QMargins(4, 2, 4, 2));
    caption_->setColor(QColor(60, 60, 60));
    QFont small = caption_->font();
    small.setPointSizeF(7.5);
    caption_->setFont(small);
    caption_->setVisible(false);
    // A narrow heatmap (a 1280x720 window) wraps the caption rather than cutting its left side off.
    connect(p, &QCustomPlot::afterLayout, this, [this] {
        caption_->setText(wrap_to_width(caption_text_, caption_->font(), plot()->axisRect()->width() - 16));
    });
    divergence_ = new QCPItemStraightLine(p);
    divergence_->setPen(QPen(QColor(230, 120, 0), 1.2, Qt::DashDotLine));  // as the time plots mark it
    divergence_->setVisible(false);
    setToolTip(tr("Softmax attention: its weights. Linear attention: the implicit weights\n"
                  "A[t,j] = φ(q_t)·φ(k_j) / (φ(q_t)·Z_t + ε), Z_t = Σ_{j≤t} φ(k_j), which reproduce its output\n"
                  "exactly. They are computed from a history of φ(k_j) kept only while the layer is observed\n"
                  "(this view shown; at most 64 MiB per layer, older keys drop out). Rows sum to just under 1\n"
                  "but need not be sparse, and the signed random features of rff and smoothed-rff can make weights negative."));
}

std::optional<int> AttentionPlot::observedLayer() const {
    // Softmax weights come with every step; a kind without an exact map has nothing to observe here.
    if (!current_ || !current_->has_run() || !current_->linear(role()) || !current_->kind(role()).attention_map)
        return std::nullopt;
    if (role() == AttentionRole::Cross && !current_->decoder()) return std::nullopt;
    return selector_->layer();
}

void AttentionPlot::markDivergence(std::optional<int64_t> step) {
    // Query steps run down the map: the first diverging one is a row.
    divergence_->setVisible(step.has_value());
    if (!step) return;
    divergence_->point1->setCoords(0, double(*step));
    divergence_->point2->setCoords(1, double(*step));
    emit needsReplot();
}

AttentionRole AttentionPlot::role() const { return selector_->role(); }

void AttentionPlot::useSignedScale(bool is_signed) {
    if (is_signed == signed_scale_) return;
    signed_scale_ = is_signed;
    scale_->setDataScaleType(is_signed ? QCPAxis::stLinear : QCPAxis::stLogarithmic);
    scale_->axis()->setTicker(is_signed ? QSharedPointer<QCPAxisTicker>(new QCPAxisTicker)
                                        : QSharedPointer<QCPAxisTicker>(new LogTicker));
    // Cells without a weight (future keys, masked memory) stay transparent, so white: viridis never reaches
    // white, and the diverging gradient's white is an exact 0, which a missing weight is not, so it is grey.
    QCPColorGradient gradient = is_signed ? diverging_gradient() : viridis_gradient();
    gradient.setNanHandling(is_signed ? QCPColorGradient::nhNanColor : QCPColorGradient::nhTransparent);
    gradient.setNanColor(QColor(225, 225, 225));
    scale_->setGradient(gradient);
}

void AttentionPlot::select(AttentionRole role, int layer, int head) {
    selector_->select(role, layer, head);
    dirty_ = true;
    emit needsReplot();
}

void AttentionPlot::rebuild() {
    selector_->fitTo(current_);
    // A decoder whose self attention is linear: its softmax cross attention has weights at every step, shown first.
    if (current_ && current_->decoder()) {
        const AttentionRole other = role() == AttentionRole::Self ? AttentionRole::Cross : AttentionRole::Self;
        if (current_->linear(role()) && !current_->linear(other))
            selector_->select(other, selector_->layer(), selector_->head());
    }
    dirty_ = true;
    emit needsReplot();
}

void AttentionPlot::appendFrom(int) {
    dirty_ = true;
    emit needsReplot();
}

void AttentionPlot::setViewStep(int64_t step) {
    if (step == view_step_) return;
    view_step_ = step;
    dirty_ = true;
    emit needsReplot();
}

void AttentionPlot::fill() {
    rows_shown_ = 0;
    map_->data()->clear();
    const AttentionRole r = role();
    const int layer = selector_->layer(), head = selector_->head();
    setSubtitle(tr("layer %1, head %2, %3").arg(layer).arg(head).arg(r == AttentionRole::Cross ? tr("cross") : tr("self")));
    QString note;
    const bool linear = current_ && current_->linear(r);
    if (!current_ || current_->empty()) note = tr("Press Step (F10) to run the model");
    // The rows kept: query steps within the window up to the viewed step.
    const int64_t last = std::min<int64_t>(view_step_, current_ ? current_->last_step() : 0);
    const int64_t first = std::max<int64_t>(current_ ? current_->base_step() + 1 : 1, last - kAttentionWindow + 1);
    std::vector<const AttentionRows*> rows;
    if (note.isEmpty()) {
        for (int64_t s = first; s <= last; ++s) {
            const StepRecord* rec = current_->at_step(s);
            const AttentionRows* found = nullptr;
            if (rec)
                for (const AttentionRows& a : rec->attention)
                    if (a.layer == layer && a.role == r && head < a.heads) found = &a;
            rows.push_back(found);
        }
        if (std::none_of(rows.begin(), rows.end(), [](const AttentionRows* a) { return a != nullptr; }))
            note = linear ? tr("No implicit weights recorded for steps %1 to %2:\nlinear attention's weights are "
                               "recorded while this view\nshows its layer. Step on to see them.")
                                .arg(first)
                                .arg(last)
                          : tr("No weights recorded for steps %1 to %2\n(the heatmap keeps the last %3 steps)")
                                .arg(first)
                                .arg(last)
                                .arg(kAttentionWindow);
    }
    note_->setText(note);
    note_->setVisible(!note.isEmpty());
    caption_->setVisible(note.isEmpty() && linear);
    const bool is_signed = std::any_of(rows.begin(), rows.end(), [](const AttentionRows* a) { return a && a->is_signed; });
    useSignedScale(is_signed);
    scale_->axis()->setLabel(is_signed ? tr("implicit weight (linear scale, 0 white)")
                             : linear  ? tr("implicit weight (log scale)")
                                       : tr("softmax weight (log scale)"));
    QCustomPlot* p = plot();
    // Self attention: the key of cache index j is step j + 1. Cross: memory element j.
    const bool self = r == AttentionRole::Self;
    p->xAxis->setLabel(self ? tr("key step") : tr("memory element"));
    // Token labels run down the narrow key axis, one per tick, so they never overlap.
    p->xAxis->setTickLabelRotation(current_ && current_->info().tokens ? -90 : 0);
    scale_->setVisible(note.isEmpty());
    p->xAxis->setTickLabels(note.isEmpty());
    p->yAxis->setTickLabels(note.isEmpty());
    if (!note.isEmpty()) {
        p->xAxis->setRange(0, 1);
        p->yAxis->setRange(0, 1);
        return;
    }
    int key_lo = std::numeric_limits<int>::max(), key_hi = 0;
    for (const AttentionRows* a : rows)
        if (a) {
            key_lo = std::min(key_lo, a->first_key);
            key_hi = std::max(key_hi, a->first_key + a->keys);
        }
    if (self) key_lo = std::max<int64_t>(key_lo, first - 1);  // a square window of steps
    const int columns = std::max(1, key_hi - key_lo);
    map_->data()->setSize(columns, int(rows.size()));
    const double key_offset = self ? 1 : 0;
    map_->data()->setRange(QCPRange(key_lo + key_offset, key_hi - 1 + key_offset), QCPRange(double(first), double(last)));
    int negative = 0;
    for (int q = 0; q < int(rows.size()); ++q)
        for (int k = 0; k < columns; ++k) {
            const AttentionRows* a = rows[size_t(q)];
            const int key = key_lo + k;
            double value = std::numeric_limits<double>::quiet_NaN();
            if (a && key >= a->first_key && key < a->first_key + a->keys)
                value = a->weights[size_t(head) * a->keys + size_t(key - a->first_key)];
            if (value < 0) ++negative;
            // Masked memory elements have weight 0: left blank like keys not yet seen. The log scale
            // has no place for the negative weights some random feature maps give either.
            if (!(value > 0) && !is_signed) value = std::numeric_limits<double>::quiet_NaN();
            map_->data()->setCell(k, q, value);
        }
    rows_shown_ = int(rows.size());
    if (linear) {
        // The map of causal attention is a lower triangle: the caption sits in the empty upper right.
        QString caption = self ? tr("linear attention: implicit weights\n"
                                    "keys kept while observed, from step %1\n")
                                     .arg(key_lo + key_offset)
                               : tr("linear attention: implicit weights\n"
                                    "masked memory elements blank\n");
        if (is_signed) {
            caption = tr("%1: exact implicit weights\nkeys kept while observed, from step %2\n")
                          .arg(QString::fromStdString(current_->kind(r).description))
                          .arg(key_lo + key_offset);
            caption += tr("blue < 0: a later key overwrote the value\n%1 weights < 0").arg(negative);
        } else {
            caption += tr("rows need not be sparse");
            if (negative > 0) caption += tr("\n%1 weights < 0 left blank").arg(negative);
        }
        caption_text_ = caption;
        caption_->setText(wrap_to_width(caption, caption_->font(), p->axisRect()->width() - 16));
    }
    map_->rescaleDataRange(true);
    if (is_signed) {
        // Centred at 0, so white means no weight and the two signs compare by colour.
        const QCPRange range = map_->dataRange();
        const double reach = std::max({std::abs(range.lower), std::abs(range.upper), 1e-12});
        map_->setDataRange(QCPRange(-reach, reach));
    }
    if (!following()) return;
    p->xAxis->setRange(key_lo + key_offset - 0.5, key_hi - 1 + key_offset + 0.5);
    p->yAxis->setRange(double(first) - 0.5, double(last) + 0.5);
}

QString AttentionPlot::keyLabel() const { return plot()->xAxis->label(); }

QString AttentionPlot::csv() const {
    // The matrix as drawn: one row per query step, one column per key; empty cells stay empty.
    QCPColorMapData* data = map_->data();
    if (rows_shown_ == 0) return {};
    QString out = plot()->yAxis->label() + '\\' + plot()->xAxis->label();
    for (int k = 0; k < data->keySize(); ++k) {
        double key = 0, value = 0;
        data->cellToCoord(k, 0, &key, &value);
        out += ',' + QString::number(qint64(std::lround(key)));
    }
    out += '\n';
    for (int q = 0; q < data->valueSize(); ++q) {
        double key = 0, value = 0;
        data->cellToCoord(0, q, &key, &value);
        out += QString::number(qint64(std::lround(value)));
        for (int k = 0; k < data->keySize(); ++k) {
            const double w = data->cell(k, q);
            out += ',' + (std::isnan(w) ? QString() : QString::number(w, 'g', 7));
        }
        out += '\n';
    }
    return out;
}

void AttentionPlot::refresh() {
    if (dirty_ || following()) fill();
    dirty_ = false;
    plot()->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace stepscope::ui
