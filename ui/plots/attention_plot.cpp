// The heatmap of recorded attention weights: rows are query steps, columns key steps (or memory elements).
#include "plots/attention_plot.h"

#include <QCheckBox>
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
      selector_(new LayerSelector(/*with_head=*/true)),
      log_colours_(new QCheckBox(tr("log"))) {
    controls()->addWidget(selector_);
    controls()->addStretch(1);
    log_colours_->setChecked(true);
    log_colours_->setToolTip(tr("Colour scale of the weights: logarithmic (weights span orders of magnitude) "
                                "or linear (differences between similar weights, and negative implicit weights)"));
    trailingControls()->addWidget(log_colours_);
    connect(log_colours_, &QCheckBox::toggled, this, [this] {
        markDirty();
    });
    connect(selector_, &LayerSelector::changed, this, [this] {
        markDirty();
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
    map_->setColorScale(scale_);
    map_->setInterpolate(false);
    auto* margins = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    note_ = add_note(p);
    // What linear attention's weights are: a line under the map, never over its cells.
    QFont small = p->font();
    small.setPointSizeF(8);
    caption_ = new QCPTextElement(p, QString(), small);
    caption_->setTextColor(QColor(90, 90, 90));
    caption_->setTextFlags(Qt::AlignLeft | Qt::AlignVCenter);
    caption_->setMargins(QMargins(0, 0, 0, 0));
    p->plotLayout()->addElement(2, 0, caption_);
    p->plotLayout()->setRowStretchFactor(2, 0.001);
    setColourScale(true);
    // Both texts wrap to the width they have (a narrow map at 1280x720), so nothing is clipped.
    connect(p, &QCustomPlot::beforeReplot, this, [this] { wrapTexts(); });
    divergence_ = new QCPItemStraightLine(p);
    divergence_->setPen(QPen(QColor(230, 120, 0), 1.2, Qt::DashDotLine));  // as the time plots mark it
    divergence_->setVisible(false);
    setToolTip(tr("Softmax attention: its weights. Linear attention: the implicit weights\n"
                  "A[t,j] = φ(q_t)·φ(k_j) / (φ(q_t)·Z_t + ε), Z_t = Σ_{j≤t} φ(k_j), which reproduce its output\n"
                  "exactly. They are computed from a history of φ(k_j) kept only while the layer is observed\n"
                  "(this view shown; at most 64 MiB per layer, older keys drop out). Rows sum to just under 1\n"
                  "but need not be sparse, and the signed random features of rff and smoothed-rff can make weights negative."));
}

void AttentionPlot::setLogColours(bool log) { log_colours_->setChecked(log); }

bool AttentionPlot::logColours() const { return log_colours_->isChecked(); }

void AttentionPlot::setColourScale(bool log, bool is_signed) {
    // Weights span orders of magnitude (a first step attends only to itself): a log scale shows them all.
    scale_->setDataScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (log) scale_->axis()->setTicker(QSharedPointer<QCPAxisTicker>(new LogTicker));
    else scale_->axis()->setTicker(QSharedPointer<QCPAxisTicker>(new EndsTicker));
    scale_->axis()->setNumberFormat(QStringLiteral("gb"));
    scale_->axis()->setNumberPrecision(4);
    // After the map's setColorScale, which hands the scale's gradient to the map. Cells without a weight (future
    // keys, masked memory) stay transparent, so white: viridis never reaches white. On the diverging gradient
    // white is an exact 0, so they are grey there.
    QCPColorGradient gradient = is_signed ? diverging_gradient() : viridis_gradient();
    gradient.setNanHandling(is_signed ? QCPColorGradient::nhNanColor : QCPColorGradient::nhTransparent);
    gradient.setNanColor(QColor(225, 225, 225));
    scale_->setGradient(gradient);
    signed_scale_ = is_signed;
}

void AttentionPlot::wrapTexts() {
    QCustomPlot* p = plot();
    // As many step labels as the map's size holds: four-digit steps in a narrow map do not run together.
    const int across = std::clamp(p->axisRect()->width() / 60, 2, 8), down = std::clamp(p->axisRect()->height() / 40, 2, 8);
    if (p->xAxis->ticker()->tickCount() != across) p->xAxis->ticker()->setTickCount(across);
    if (p->yAxis->ticker()->tickCount() != down) p->yAxis->ticker()->setTickCount(down);
    const QString caption = wrap_to_width(caption_text_, caption_->font(), std::max(120, p->width() - 24));
    if (caption_->text() != caption) {
        caption_->setText(caption);
        caption_->setMargins(caption.isEmpty() ? QMargins(0, 0, 0, 0) : QMargins(8, 0, 8, 3));
        p->plotLayout()->update(QCPLayoutElement::upPreparation);
    }
    const QString note = wrap_to_width(note_text_, note_->font(), std::max(100, p->axisRect()->width() - 16));
    if (note_->text() != note) note_->setText(note);
}

std::optional<int> AttentionPlot::observedLayer() const {
    // Softmax weights come with every step; a kind without an exact map has nothing to observe here.
    if (!current_ || !current_->has_run() || !current_->linear(role()) || !current_->kind(role()).attention_map)
        return std::nullopt;
    if (role() == AttentionRole::Cross && !current_->decoder()) return std::nullopt;
    return selector_->layer();
}

std::pair<int64_t, int64_t> AttentionPlot::window() const {
    const int64_t last = std::min<int64_t>(view_step_, current_ ? current_->last_step() : 0);
    const int64_t first = std::max<int64_t>(current_ ? current_->base_step() + 1 : 1, last - kAttentionWindow + 1);
    return {first, last};
}

const AttentionRows* AttentionPlot::rowsAt(int64_t step, int layer, AttentionRole role) const {
    const std::optional<StepRecord> rec = current_ ? current_->at_step(step) : std::nullopt;
    if (!rec) return nullptr;
    const AttentionRows* found = nullptr;
    for (const AttentionRows& a : rec->attention)
        if (a.layer == layer && a.role == role) found = &a;
    return found;
}

ViewRequest AttentionPlot::missingObservations() const {
    if (!current_ || current_->empty()) return {};
    const AttentionRole r = role();
    if (r == AttentionRole::Cross && !current_->decoder()) return {};
    const bool linear = current_->linear(r);
    if (linear && !current_->kind(r).attention_map) return {};
    const int layer = selector_->layer();
    const auto [first, last] = window();
    // A self-attention row is whole when its keys reach back to the window's first key (cache index first - 1).
    const bool keys_matter = linear && r == AttentionRole::Self;
    int64_t lo = 0, hi = -1;
    for (int64_t s = first; s <= last; ++s) {
        if (!current_->at_step(s)) continue;  // thinned out of a long run: no row to fill
        const AttentionRows* a = rowsAt(s, layer, r);
        if (a && (!keys_matter || a->first_key <= first - 1)) continue;
        if (hi < lo) lo = s;
        hi = s;
    }
    if (hi < lo) return {};
    ViewRequest request;
    request.element = current_->info().observed;
    request.layer = layer;
    request.role = r;
    // The keys a row holds begin where its observation began: the window's first step, for rows of the whole window.
    request.first = keys_matter ? first : lo;
    request.last = hi;
    request.attention = true;
    request.what = linear ? tr("implicit weights") : tr("softmax weights");
    return request;
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

void AttentionPlot::select(AttentionRole role, int layer, int head) {
    selector_->select(role, layer, head);
    markDirty();
}

void AttentionPlot::rebuild() {
    selector_->fitTo(current_);
    // A decoder whose self attention is linear: its softmax cross attention has weights at every step, shown first.
    if (current_ && current_->decoder()) {
        const AttentionRole other = role() == AttentionRole::Self ? AttentionRole::Cross : AttentionRole::Self;
        if (current_->linear(role()) && !current_->linear(other))
            selector_->select(other, selector_->layer(), selector_->head());
    }
    markDirty();
}

void AttentionPlot::appendFrom(int) {
    markDirty();
}

void AttentionPlot::setViewStep(int64_t step) {
    if (step == view_step_) return;
    view_step_ = step;
    markDirty();
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
    const auto [first, last] = window();
    std::vector<const AttentionRows*> rows;
    if (note.isEmpty()) {
        for (int64_t s = first; s <= last; ++s) {
            const AttentionRows* found = rowsAt(s, layer, r);
            rows.push_back(found && head < found->heads ? found : nullptr);
        }
        if (std::none_of(rows.begin(), rows.end(), [](const AttentionRows* a) { return a != nullptr; }))
            note = (linear ? tr("Implicit weights of steps %1 to %2, batch element %3:") : tr("Weights of steps %1 to %2, batch element %3:"))
                       .arg(first)
                       .arg(last)
                       .arg(current_->info().observed) +
                   '\n' + computeNote();
    }
    note_text_ = note;
    note_->setText(note);
    note_->setVisible(!note.isEmpty());
    caption_text_.clear();
    // The delta rules' signed weights take a linear scale centred at 0, whatever the box says.
    const bool is_signed =
        std::any_of(rows.begin(), rows.end(), [](const AttentionRows* a) { return a && a->is_signed; });
    const bool log = log_colours_->isChecked() && !is_signed;
    log_colours_->setEnabled(!is_signed);
    if (scale_->dataScaleType() != (log ? QCPAxis::stLogarithmic : QCPAxis::stLinear) || is_signed != signed_scale_)
        setColourScale(log, is_signed);
    scale_->axis()->setLabel(is_signed ? tr("implicit weight (0 white)")
                             : linear  ? (log ? tr("implicit weight (log scale)") : tr("implicit weight"))
                                       : (log ? tr("softmax weight (log scale)") : tr("softmax weight")));
    QCustomPlot* p = plot();
    // Self attention: the key of cache index j is step j + 1. Cross: memory element j.
    const bool self = r == AttentionRole::Self;
    p->xAxis->setLabel(self ? tr("key step") : tr("memory element"));
    // Token labels run down the narrow key axis, one per tick, so they never overlap.
    p->xAxis->setTickLabelRotation(current_ && current_->info().tokens ? -90 : 0);
    scale_->setVisible(note.isEmpty());
    // A hidden colour scale would keep its column in QCustomPlot's grid: it leaves the row while the
    // map holds a note, so the note's axes take the whole width.
    auto* row = qobject_cast<QCPLayoutGrid*>(plot()->plotLayout()->element(1, 0));
    if (row && note.isEmpty() != row->hasElement(0, 1)) {
        if (note.isEmpty()) {
            row->addElement(0, 1, scale_);
            row->setColumnStretchFactor(1, 0.001);
        } else {
            row->take(scale_);
            row->simplify();
        }
    }
    p->xAxis->setTickLabels(note.isEmpty());
    p->yAxis->setTickLabels(note.isEmpty());
    if (!note.isEmpty()) {
        p->xAxis->setRange(0, 1);
        p->yAxis->setRange(0, 1);
        wrapTexts();
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
    const int row_count = int(rows.size());
    const double key_offset = self ? 1 : 0;
    cells_.assign(size_t(columns) * size_t(row_count), std::numeric_limits<double>::quiet_NaN());
    cell_columns_ = columns;
    first_key_ = key_lo + key_offset;
    first_row_ = first;
    int negative = 0;
    QCPRange extent;
    bool any = false;
    for (int q = 0; q < row_count; ++q)
        for (int k = 0; k < columns; ++k) {
            const AttentionRows* a = rows[size_t(q)];
            const int key = key_lo + k;
            double value = std::numeric_limits<double>::quiet_NaN();
            if (a && key >= a->first_key && key < a->first_key + a->keys)
                value = a->weights[size_t(head) * a->keys + size_t(key - a->first_key)];
            if (value < 0) ++negative;
            // Masked memory elements have weight 0: left blank like keys not yet seen. The log scale
            // has no place for the negative weights some random feature maps give either; the linear one has.
            if (log ? !(value > 0) : !(value != 0)) value = std::numeric_limits<double>::quiet_NaN();
            cells_[size_t(q) * size_t(columns) + size_t(k)] = value;
            if (std::isnan(value)) continue;
            if (any) extent.expand(value);
            else extent = QCPRange(value, value);
            any = true;
        }
    // QCustomPlot draws a map of one cell along an axis with no width: such an axis holds the cell twice,
    // half a cell either side of its coordinate, and the axis range shows one cell's width.
    const int map_columns = std::max(2, columns), map_rows = std::max(2, row_count);
    map_->data()->setSize(map_columns, map_rows);
    map_->data()->setRange(columns > 1 ? QCPRange(first_key_, first_key_ + columns - 1)
                                       : QCPRange(first_key_ - 0.5, first_key_ + 0.5),
                           row_count > 1 ? QCPRange(double(first), double(last))
                                         : QCPRange(double(first) - 0.5, double(first) + 0.5));
    for (int q = 0; q < map_rows; ++q)
        for (int k = 0; k < map_columns; ++k)
            map_->data()->setCell(k, q, cells_[size_t(std::min(q, row_count - 1)) * size_t(columns) +
                                               size_t(std::min(k, columns - 1))]);
    rows_shown_ = row_count;
    // The colour range is the weights' own; a single value (a first step's weight 1) sits in the middle
    // of a range around it, labelled, rather than at an end of a range of no width.
    if (any && extent.upper <= extent.lower + std::abs(extent.lower) * 1e-12) {
        const double v = extent.lower;
        extent = log ? QCPRange(v / std::sqrt(10.0), v * std::sqrt(10.0))
                     : QCPRange(v - std::max(std::abs(v) * 0.5, 1e-12), v + std::max(std::abs(v) * 0.5, 1e-12));
    }
    // The delta rules' range is centred at 0, so white is no weight and the two signs compare by colour.
    if (any && is_signed) {
        const double reach = std::max({std::abs(extent.lower), std::abs(extent.upper), 1e-12});
        extent = QCPRange(-reach, reach);
    }
    if (any) scale_->setDataRange(extent);
    if (linear) {
        // The map of causal attention is a lower triangle: the caption sits in the empty upper right.
        // Named by the kind ("Linear attention", "Gated linear attention"), which a step's map does not say.
        QString kind = QString::fromStdString(current_->kind(r).description);
        if (!kind.isEmpty()) kind[0] = kind[0].toUpper();
        QString caption = self ? tr("%1: implicit weights\n"
                                    "keys kept while observed, from step %2\n")
                                     .arg(kind)
                                     .arg(key_lo + key_offset)
                               : tr("%1: implicit weights\n"
                                    "masked memory elements blank\n")
                                     .arg(kind);
        if (is_signed) {
            caption = tr("%1: exact implicit weights\nkeys kept while observed, from step %2\n")
                          .arg(QString::fromStdString(current_->kind(r).description))
                          .arg(key_lo + key_offset);
            caption += tr("blue < 0: a later key overwrote the value; %1 weights < 0").arg(negative);
        } else {
            caption += tr("rows need not be sparse");
            if (negative > 0 && log)
                caption += tr("\n%1 weights < 0 left blank (linear colours show them)").arg(negative);
        }
        caption_text_ = caption.replace('\n', QStringLiteral(" · "));
    }
    wrapTexts();
    if (!following()) return;
    p->xAxis->setRange(first_key_ - 0.5, first_key_ + columns - 1 + 0.5);
    p->yAxis->setRange(double(first) - 0.5, double(last) + 0.5);
}

QString AttentionPlot::shownNote() const { return note_->visible() ? note_->text() : QString(); }

QString AttentionPlot::notExported() const {
    // From the records, not from the last drawing: an export may come before the next frame.
    const auto [first, last] = window();
    for (int64_t s = first; s <= last; ++s)
        if (const AttentionRows* a = rowsAt(s, selector_->layer(), role()); a && selector_->head() < a->heads) return {};
    return tr("no weights at the viewed step");
}

QString AttentionPlot::keyLabel() const { return plot()->xAxis->label(); }

QString AttentionPlot::csv() const {
    // The matrix as drawn: one row per query step, one column per key; empty cells stay empty.
    if (rows_shown_ == 0) return {};
    QString out = plot()->yAxis->label() + '\\' + plot()->xAxis->label();
    for (int k = 0; k < cell_columns_; ++k) out += ',' + QString::number(qint64(std::lround(first_key_ + k)));
    out += '\n';
    for (int q = 0; q < rows_shown_; ++q) {
        out += QString::number(first_row_ + q);
        for (int k = 0; k < cell_columns_; ++k) {
            const double w = cells_[size_t(q) * size_t(cell_columns_) + size_t(k)];
            out += ',' + (std::isnan(w) ? QString() : QString::number(w, 'g', 9));
        }
        out += '\n';
    }
    return out;
}

void AttentionPlot::refresh() {
    if (takeDirty() || following()) fill();
    plot()->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace stepscope::ui
