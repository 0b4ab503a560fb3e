// The heatmap of recorded attention weights: rows are query steps, columns key steps (or memory elements).
#include "plots/attention_plot.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "plots/attention_compare.h"
#include "plots/layer_selector.h"
#include "plots/plot_style.h"
#include "plots/token_ticker.h"

namespace stepscope::ui {

AttentionPlot::AttentionPlot(QWidget* parent)
    : PlotView(tr("Attention weights"), QStringLiteral("attention"), parent),
      selector_(new LayerSelector(/*with_head=*/true)),
      log_colours_(new QCheckBox(tr("log"))),
      compare_(new QComboBox) {
    controls()->addWidget(selector_);
    compare_->setToolTip(
        tr("Another run shown (Runs pane): its map of the same layer, head, batch element and steps "
           "on this map's colour scale, and the difference of the two"));
    // A row of its own, shown while another run is drawn: the selectors' row already fills the heatmap's width
    // in a 1280x720 window. A long run name is elided, its whole name in the tooltip.
    compare_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    compare_->setMinimumContentsLength(12);
    compare_row_ = new QWidget;
    auto* compare_layout = new QHBoxLayout(compare_row_);
    compare_layout->setContentsMargins(4, 0, 4, 0);
    compare_layout->addWidget(new QLabel(tr("Compare with")));
    compare_layout->addWidget(compare_);
    // Another run's map is computed from its history only when asked: that run becomes the engine's, and
    // stepping the viewed run then rebuilds its own session first.
    compute_other_ = new QPushButton(tr("Compute its map"));
    compute_other_->setToolTip(
        tr("Compute the compared run's weights of this layer over these steps from its "
           "history, in the worker (progress above the plots)"));
    compute_other_->setVisible(false);
    connect(compute_other_, &QPushButton::clicked, this, &AttentionPlot::computeCompared);
    compare_layout->addWidget(compute_other_);
    compare_layout->addStretch(1);
    compare_row_->setVisible(false);
    addRowUnderControls(compare_row_);
    connect(compare_, &QComboBox::currentIndexChanged, this, [this] {
        if (filling_) return;
        chosen_ = compare_->currentText();
        compute_other_asked_ = false;
        markDirty();
    });
    controls()->addStretch(1);
    log_colours_->setChecked(true);
    log_colours_->setToolTip(
        tr("Colour scale of the weights: logarithmic (weights span orders of magnitude) "
           "or linear (differences between similar weights, and negative implicit weights)"));
    trailingControls()->addWidget(log_colours_);
    connect(log_colours_, &QCheckBox::toggled, this, [this] { markDirty(); });
    connect(selector_, &LayerSelector::changed, this, [this] { markDirty(); });

    QCustomPlot* p = plot();
    p->legend->setVisible(false);
    p->axisRect()->setupFullAxesBox(true);
    p->yAxis->setRangeReversed(true);  // query steps run down, as in an attention matrix
    p->yAxis->setLabel(tr("query step"));
    // Steps and memory elements are whole numbers: ticks at integer multiples only, with the
    // token fed at that step when a token model runs.
    // Beside another run's map, the step numbers alone: three maps share the width tokens would take.
    for (int i = 0; i < 2; ++i) {
        QSharedPointer<QCPAxisTickerFixed> ticker(
            new TokenStepTicker<QCPAxisTickerFixed>([this] { return current_; }, QStringLiteral(" ")));
        QSharedPointer<QCPAxisTickerFixed> plain(new QCPAxisTickerFixed);
        for (QCPAxisTickerFixed* t : {ticker.data(), plain.data()}) {
            t->setTickStep(1);
            t->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        }
        token_tickers_[i] = ticker;
        plain_tickers_[i] = plain;
    }
    p->xAxis->setTicker(token_tickers_[0]);
    p->yAxis->setTicker(token_tickers_[1]);
    map_ = new QCPColorMap(p->xAxis, p->yAxis);
    scale_ = new QCPColorScale(p);
    // No legend: the colour scale stands right of the map instead, in a row of its own under the
    // title, so the title keeps the plot's whole width.
    p->plotLayout()->take(p->legend);
    p->legend->setVisible(false);
    QCPAxisRect* axes = p->axisRect();
    p->plotLayout()->take(axes);
    p->plotLayout()->simplify();
    row_ = new QCPLayoutGrid;
    p->plotLayout()->addElement(1, 0, row_);
    row_->addElement(0, 0, axes);
    row_->addElement(0, 1, scale_);
    row_->setColumnStretchFactor(1, 0.001);
    scale_->setType(QCPAxis::atRight);
    scale_->setBarWidth(14);
    map_->setColorScale(scale_);
    map_->setInterpolate(false);
    margins_ = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins_);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins_);
    compared_ = std::make_unique<ComparedMaps>(p, scale_, margins_);
    // Why the chosen run has no map to compare: one line over the maps, never another map in its place.
    QFont line_font = p->font();
    line_font.setPointSizeF(8.5);
    compare_line_ = new QCPTextElement(p, QString(), line_font);
    compare_line_->setTextColor(QColor(170, 80, 0));
    compare_line_->setMargins(QMargins(0, 0, 0, 0));
    p->plotLayout()->insertRow(1);
    p->plotLayout()->addElement(1, 0, compare_line_);
    p->plotLayout()->setRowStretchFactor(1, 0.001);
    note_ = add_note(p);
    // What linear attention's weights are: a line under the map, never over its cells.
    QFont small = p->font();
    small.setPointSizeF(8);
    caption_ = new QCPTextElement(p, QString(), small);
    caption_->setTextColor(QColor(90, 90, 90));
    caption_->setTextFlags(Qt::AlignLeft | Qt::AlignVCenter);
    caption_->setMargins(QMargins(0, 0, 0, 0));
    p->plotLayout()->addElement(3, 0, caption_);
    p->plotLayout()->setRowStretchFactor(3, 0.001);
    setColourScale(true);
    // Both texts wrap to the width they have (a narrow map at 1280x720), so nothing is clipped.
    connect(p, &QCustomPlot::beforeReplot, this, [this] { wrapTexts(); });
    connect(p, &QCustomPlot::afterLayout, this, [this] { fitLabels(); });
    divergence_ = new QCPItemStraightLine(p);
    divergence_->setPen(QPen(QColor(230, 120, 0), 1.2, Qt::DashDotLine));  // as the time plots mark it
    divergence_->setVisible(false);
    setToolTip(tr(
        "Softmax attention: its weights. Linear attention: the implicit weights\n"
        "A[t,j] = φ(q_t)·φ(k_j) / (φ(q_t)·Z_t + ε), Z_t = Σ_{j≤t} φ(k_j), which reproduce its output\n"
        "exactly. They are computed from a history of φ(k_j) kept only while the layer is observed\n"
        "(this view shown), for the 256 newest keys a row shows. Rows sum to just under 1\n"
        "but need not be sparse, and the signed random features of rff and smoothed-rff can make weights negative."));
}

AttentionPlot::~AttentionPlot() = default;

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
    const int across = std::clamp(p->axisRect()->width() / 60, 2, 8),
              down = std::clamp(p->axisRect()->height() / 40, 2, 8);
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
    // Wrapped rather than cut in a narrow pane: its end says what to do.
    const QString line = wrap_to_width(compare_line_text_, compare_line_->font(), std::max(120, p->width() - 24));
    if (compare_line_->text() != line) {
        compare_line_->setText(line);
        compare_line_->setMargins(line.isEmpty() ? QMargins(0, 0, 0, 0) : QMargins(8, 0, 8, 2));
        p->plotLayout()->update(QCPLayoutElement::upPreparation);
    }
    if (compared_->shown()) compared_->matchAxes(p->xAxis, p->yAxis);
}

void AttentionPlot::fitLabels() {
    // Along the colour bar, cut to its height rather than run past the plot. A label's length moves no margin.
    const QString scale_label =
        QFontMetrics(scale_->axis()->labelFont())
            .elidedText(scale_label_, Qt::ElideRight, std::max(40, scale_->outerRect().height() - 4));
    if (scale_->axis()->label() != scale_label) scale_->axis()->setLabel(scale_label);
    if (!compared_->shown()) return;
    compared_->fitLabels();
    QCPAxisRect* axes = plot()->axisRect();
    const QFontMetrics metrics(plot()->xAxis2->labelFont());
    const int room = axes->width() + 2 * axes->margins().right();
    // "run 2 (viewed)", or the name alone where that does not fit.
    const QString viewed =
        metrics.elidedText(metrics.horizontalAdvance(viewed_label_) <= room ? viewed_label_ : viewedShortName(),
                           Qt::ElideRight, room);
    if (plot()->xAxis2->label() != viewed) plot()->xAxis2->setLabel(viewed);
}

void AttentionPlot::fillCompareChoices() {
    // Nothing, then every run drawn beside this one; the parent by default, else the first that has steps (a run
    // not stepped yet has no map to compare), else nothing.
    filling_ = true;
    compare_->clear();
    compare_->addItem(tr("no other run"), -1);
    int parent = -1, stepped = -1;
    for (size_t i = 0; i < overlays_.size(); ++i) {
        compare_->addItem(overlays_[i].name.section(':', 0, 0), int(i));
        compare_->setItemData(compare_->count() - 1, overlays_[i].name, Qt::ToolTipRole);
        if (overlays_[i].parent && parent < 0) parent = int(i);
        if (overlays_[i].store && !overlays_[i].store->empty() && stepped < 0) stepped = int(i);
    }
    int index = chosen_.isEmpty() ? -1 : compare_->findText(chosen_);
    if (index < 0) index = (parent >= 0 ? parent : stepped) + 1;
    compare_->setCurrentIndex(index);
    compare_row_->setVisible(compare_->count() > 1);
    filling_ = false;
}

void AttentionPlot::compareWith(int index) {
    compare_->setCurrentIndex(std::clamp(index + 1, 0, compare_->count() - 1));
}

int AttentionPlot::comparedWith() const { return compare_->currentData().toInt(); }

void AttentionPlot::computeCompared() {
    compute_other_asked_ = true;
    compute_other_->setVisible(false);
    markDirty();
}

bool AttentionPlot::computeComparedOffered() const { return !compute_other_->isHidden(); }

void AttentionPlot::arrangeMaps(bool weights, bool comparing) {
    std::vector<QCPLayoutElement*> want{plot()->axisRect()};
    if (comparing) want.push_back(compared_->otherAxes());
    if (weights) want.push_back(scale_);
    if (comparing) {
        want.push_back(compared_->differenceAxes());
        want.push_back(compared_->differenceScale());
    }
    std::vector<QCPLayoutElement*> have;
    for (int c = 0; c < row_->columnCount(); ++c) have.push_back(row_->element(0, c));
    compared_->setShown(comparing);
    if (have == want) return;
    // A hidden element would keep its column in QCustomPlot's grid: the row holds only what is drawn.
    for (QCPLayoutElement* e : have)
        if (e) row_->take(e);
    row_->simplify();
    // Stretch applies to the maps' outer widths: the viewed map's takes its axis' labels too, so it gets more,
    // and the three maps' cells come out about as wide.
    QList<double> stretch;
    for (size_t c = 0; c < want.size(); ++c) {
        row_->addElement(0, int(c), want[c]);
        stretch << (qobject_cast<QCPColorScale*>(want[c]) ? 0.001 : c == 0 && comparing ? 1.6 : 1.0);
    }
    row_->setColumnStretchFactors(stretch);
}

std::optional<int> AttentionPlot::observedLayer() const {
    // Softmax weights come with every step; a kind without an exact map has nothing to observe here.
    if (!current_ || !current_->has_run() || !current_->kind(role()).map_on_request ||
        !current_->kind(role()).attention_map)
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
    return current_ ? attention_rows(*current_, step, layer, role) : nullptr;
}

ViewRequest AttentionPlot::missingObservations() const {
    if (!current_ || current_->empty()) return {};
    const ViewRequest own = missingIn(*current_);
    if (!own.empty()) return own;
    // The run compared with, where it lacks rows of this map and the user asked: computed for it, as though viewed.
    if (!compute_other_asked_) return {};
    const int compared = comparedWith();
    if (compared < 0 || compared >= int(overlays_.size()) || overlays_[size_t(compared)].id < 0) return {};
    const RunOverlay& other = overlays_[size_t(compared)];
    if (!other.store->has_run() || other.store->info().observed != current_->info().observed) return {};
    ViewRequest request = missingIn(*other.store);
    if (request.empty()) return {};
    request.run = other.id;
    request.what = tr("%1 of %2").arg(request.what, other.name.section(':', 0, 0));
    return request;
}

ViewRequest AttentionPlot::missingIn(const TraceStore& store) const {
    if (store.empty()) return {};
    const AttentionRole r = role();
    if (r == AttentionRole::Cross && !store.decoder()) return {};
    const AttentionCapabilities& kind = store.kind(r);
    if (!kind.attention_map) return {};
    const int layer = selector_->layer();
    if (layer >= store.layers()) return {};
    const auto [first, last] = window();
    // A self-attention row is whole when its keys reach back to the window's first key (cache index first - 1).
    const bool keys_matter = kind.map_on_request && r == AttentionRole::Self;
    int64_t lo = 0, hi = -1;
    for (int64_t s = first; s <= last; ++s) {
        if (!store.at_step(s)) continue;  // thinned out of a long run, or past its end: no row to fill
        const AttentionRows* a = attention_rows(store, s, layer, r);
        if (a && (!keys_matter || a->first_key <= first - 1)) continue;
        if (hi < lo) lo = s;
        hi = s;
    }
    if (hi < lo) return {};
    ViewRequest request;
    request.element = store.info().observed;
    request.layer = layer;
    request.role = r;
    // The keys a row holds begin where its observation began: the window's first step, for rows of the whole window.
    request.first = keys_matter ? first : lo;
    request.last = hi;
    request.attention = true;
    request.what = kind.map_on_request ? tr("implicit weights") : tr("softmax weights");
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
    fillCompareChoices();
    // A decoder whose self attention's map is computed on request: its softmax cross attention has weights at every
    // step, shown first.
    if (current_ && current_->decoder()) {
        const AttentionRole other = role() == AttentionRole::Self ? AttentionRole::Cross : AttentionRole::Self;
        if (current_->kind(role()).map_on_request && !current_->kind(other).map_on_request)
            selector_->select(other, selector_->layer(), selector_->head());
    }
    markDirty();
}

void AttentionPlot::appendFrom(int) { markDirty(); }

void AttentionPlot::setViewStep(int64_t step) {
    if (step == view_step_) return;
    view_step_ = step;
    markDirty();
}

void AttentionPlot::fill() {
    rows_shown_ = 0;
    map_->data()->clear();
    other_cells_.clear();
    difference_cells_.clear();
    const AttentionRole r = role();
    const int layer = selector_->layer(), head = selector_->head();
    QString subtitle =
        tr("layer %1, head %2, %3").arg(layer).arg(head).arg(r == AttentionRole::Cross ? tr("cross") : tr("self"));
    QString note;
    const bool implicit = current_ && current_->has_run() && current_->kind(r).map_on_request;
    if (!current_ || current_->empty()) note = tr("Press Step (F10) to run the model");
    const auto [first, last] = window();
    std::vector<const AttentionRows*> rows;
    if (note.isEmpty()) {
        for (int64_t s = first; s <= last; ++s) {
            const AttentionRows* found = rowsAt(s, layer, r);
            rows.push_back(found && head < found->heads ? found : nullptr);
        }
        if (std::none_of(rows.begin(), rows.end(), [](const AttentionRows* a) { return a != nullptr; }))
            note = (implicit ? tr("Implicit weights of steps %1 to %2, batch element %3:")
                             : tr("Weights of steps %1 to %2, batch element %3:"))
                       .arg(first)
                       .arg(last)
                       .arg(current_->info().observed) +
                   '\n' + computeNote();
    }
    note_text_ = note;
    note_->setText(note);
    note_->setVisible(!note.isEmpty());
    caption_text_.clear();
    // Self attention: the key of cache index j is step j + 1. Cross: memory element j.
    const bool self = r == AttentionRole::Self;
    int key_lo = std::numeric_limits<int>::max(), key_hi = 0;
    for (const AttentionRows* a : rows)
        if (a) {
            key_lo = std::min(key_lo, a->first_key);
            key_hi = std::max(key_hi, a->first_key + a->keys);
        }
    if (self) key_lo = std::max<int64_t>(key_lo, first - 1);  // a square window of steps
    const int columns = std::max(1, key_hi - key_lo);
    // The chosen run's rows for the same steps, keys, head and element, or why it has none.
    const int compared = comparedWith();
    OtherRows other;
    QString other_name;
    if (note.isEmpty() && compared >= 0 && compared < int(overlays_.size())) {
        other_name = overlays_[size_t(compared)].name.section(':', 0, 0);
        other = other_rows(*current_, rows, first, key_lo, key_hi, *overlays_[size_t(compared)].store, other_name,
                           layer, r, head);
        if (!other.rows.empty()) subtitle += tr(" · %1 against %2").arg(viewedShortName(), other_name);
    }
    setSubtitle(subtitle);
    const bool comparing = !other.rows.empty();
    // Asked once, for what the window showed then: a later window asks again.
    if (comparing) compute_other_asked_ = false;
    compute_other_->setVisible(other.unobserved && !compute_other_asked_);
    // The delta rules' signed weights take a linear scale centred at 0, whatever the box says; so do both maps
    // when either run's are signed, as they share one scale.
    auto any_signed = [](const std::vector<const AttentionRows*>& of) {
        return std::any_of(of.begin(), of.end(), [](const AttentionRows* a) { return a && a->is_signed; });
    };
    const bool viewed_signed = any_signed(rows), is_signed = viewed_signed || any_signed(other.rows);
    const bool log = log_colours_->isChecked() && !is_signed;
    log_colours_->setEnabled(!is_signed);
    if (scale_->dataScaleType() != (log ? QCPAxis::stLogarithmic : QCPAxis::stLinear) || is_signed != signed_scale_)
        setColourScale(log, is_signed);
    const QString weight_kind = comparing  ? tr("weight, both maps")
                                : implicit ? tr("implicit weight")
                                           : tr("softmax weight");
    scale_label_ = is_signed ? tr("%1 (0 white)").arg(weight_kind)
                   : log     ? tr("%1 (log scale)").arg(weight_kind)
                             : weight_kind;
    compare_line_text_ = other.missing;
    QCustomPlot* p = plot();
    const auto& tickers = comparing ? plain_tickers_ : token_tickers_;
    if (p->xAxis->ticker() != tickers[0]) {
        p->xAxis->setTicker(tickers[0]);
        p->yAxis->setTicker(tickers[1]);
    }
    p->xAxis->setLabel(self ? tr("key step") : tr("memory element"));
    // The viewed map's name over it while another's stands beside it.
    viewed_label_ = comparing ? tr("%1 (viewed)").arg(viewedShortName()) : QString();
    if (!comparing) p->xAxis2->setLabel(QString());
    // Token labels run down the narrow key axis, one per tick, so they never overlap.
    p->xAxis->setTickLabelRotation(current_ && current_->info().tokens && !comparing ? -90 : 0);
    scale_->setVisible(note.isEmpty());
    arrangeMaps(note.isEmpty(), comparing);
    p->xAxis->setTickLabels(note.isEmpty());
    p->yAxis->setTickLabels(note.isEmpty());
    if (!note.isEmpty()) {
        p->xAxis->setRange(0, 1);
        p->yAxis->setRange(0, 1);
        wrapTexts();
        return;
    }
    const int row_count = int(rows.size());
    const double key_offset = self ? 1 : 0;
    const std::vector<double> raw = attention_cells(rows, head, key_lo, columns);
    cell_columns_ = columns;
    first_key_ = key_lo + key_offset;
    first_row_ = first;
    // Masked memory elements have weight 0: left blank like keys not yet seen. The log scale has no place for the
    // negative weights some random feature maps give either; the linear one has.
    auto shown = [log](double value) {
        return (log ? !(value > 0) : !(value != 0)) ? std::numeric_limits<double>::quiet_NaN() : value;
    };
    int negative = 0;
    QCPRange extent;
    bool any = false;
    auto take = [&](const std::vector<double>& values, std::vector<double>& drawn) {
        drawn.resize(values.size());
        for (size_t i = 0; i < values.size(); ++i) {
            drawn[i] = shown(values[i]);
            if (std::isnan(drawn[i])) continue;
            extent = any ? QCPRange(std::min(extent.lower, drawn[i]), std::max(extent.upper, drawn[i]))
                         : QCPRange(drawn[i], drawn[i]);
            any = true;
        }
    };
    take(raw, cells_);
    negative = int(std::count_if(raw.begin(), raw.end(), [](double v) { return v < 0; }));
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
            map_->data()->setCell(
                k, q, cells_[size_t(std::min(q, row_count - 1)) * size_t(columns) + size_t(std::min(k, columns - 1))]);
    rows_shown_ = row_count;
    if (comparing) {
        // The other run's weights widen the one scale both maps are drawn on; the UI only subtracts.
        const std::vector<double> other_raw = attention_cells(other.rows, head, key_lo, columns);
        take(other_raw, other_cells_);
        difference_cells_ = cell_difference(raw, other_raw);
        compared_->draw(other_cells_, difference_cells_, row_count, columns, first_key_, first, last, viewedShortName(),
                        other_name);
    }
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
    if (implicit) {
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
        if (viewed_signed) {
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
        if (const AttentionRows* a = rowsAt(s, selector_->layer(), role()); a && selector_->head() < a->heads)
            return {};
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
