// Series over steps: appended in batches, smoothed on request, scaled to the data unless the user has
// zoomed, a cursor with the values at the viewed step, and a marker where values stop being finite.
#include "plots/time_plot.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QSignalBlocker>
#include <QTextStream>
#include <QToolTip>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "plots/decimation.h"
#include "plots/plot_style.h"
#include "plots/token_ticker.h"

namespace stepscope::ui {

namespace {
constexpr double kMinSteps = 10;  // an x range never narrower than this, so a first step is visible
constexpr double kHoverPixels = 24;
constexpr int kCursorLines = 32;  // in columns when the axes are short
// Before the plot is laid out its axis rect is tiny: decimate for at least this many columns.
constexpr int kMinColumns = 200;

QString number(double v) { return QLocale::c().toString(v, 'g', 6); }
// Copy data keeps a float's every digit.
QString exact(double v) { return QLocale::c().toString(v, 'g', 9); }
}  // namespace

TimePlot::TimePlot(const QString& title, const QString& file_stem, QWidget* parent)
    : PlotView(title, file_stem, parent), scale_box_(new QComboBox) {
    QCustomPlot* p = plot();
    p->xAxis->setLabel(QStringLiteral("step"));
    p->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(
        new TokenStepTicker<QCPAxisTicker>([this] { return current_; }, QStringLiteral("\n"))));
    cursor_ = new QCPItemStraightLine(p);
    cursor_->setPen(QPen(QColor(90, 90, 90), 1, Qt::DashLine));
    cursor_->setVisible(false);
    // The values at the cursor: an opaque box with a swatch of each series' colour, drawn as a pixmap
    // placed in pixels inside the axes, so no curve runs through it and the axes never clip it.
    cursor_label_ = new QCPItemPixmap(p);
    cursor_label_->setClipToAxisRect(false);
    cursor_label_->topLeft->setType(QCPItemPosition::ptAbsolute);
    cursor_label_->setScaled(false);
    // Above the curves (graphs are added to "main" after it), below nothing.
    cursor_label_->setLayer(QStringLiteral("legend"));
    cursor_label_->setVisible(false);
    QFont small = p->font();
    small.setPointSizeF(8);
    non_finite_line_ = new QCPItemStraightLine(p);
    non_finite_line_->setPen(QPen(QColor(198, 40, 40), 1.5, Qt::DotLine));
    non_finite_line_->setVisible(false);
    non_finite_label_ = new QCPItemText(p);
    non_finite_label_->position->setTypeX(QCPItemPosition::ptPlotCoords);
    non_finite_label_->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    non_finite_label_->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
    non_finite_label_->setColor(QColor(198, 40, 40));
    non_finite_label_->setFont(small);
    non_finite_label_->setVisible(false);
    // Orange dash-dot, apart from the red dotted NaN marker; its height is the axis rect's, so a log
    // axis draws it too.
    divergence_ = new QCPItemStraightLine(p);
    divergence_->setPen(QPen(QColor(230, 120, 0), 1.2, Qt::DashDotLine));
    for (QCPItemPosition* point : {divergence_->point1, divergence_->point2}) {
        point->setTypeX(QCPItemPosition::ptPlotCoords);
        point->setTypeY(QCPItemPosition::ptAxisRectRatio);
    }
    divergence_->setVisible(false);
    note_ = add_note(p);
    scale_box_->addItems({tr("linear"), tr("log"), tr("symlog")});
    scale_box_->setToolTip(
        tr("Value axis: linear; log (values ≤ 0 have no place on it and are not drawn); or "
           "symlog, sign(y)·log(1 + |y|/c), linear near 0 and logarithmic beyond, for signed "
           "values that span decades"));
    trailingControls()->addWidget(scale_box_);
    connect(scale_box_, &QComboBox::currentIndexChanged, this, [this](int index) { setScale(Scale(index)); });
    // A zoom, a drag or a resize shows other columns: decimate again at the next frame.
    connect(p->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this](const QCPRange& range) {
        if (!fitting_ && range != decimated_range_) emit needsReplot();
    });
    connect(p, &QCustomPlot::afterLayout, this, [this] {
        if (columns() != decimated_columns_) emit needsReplot();
    });
}

void TimePlot::Values::push(double v) {
    data.push_back(v);
    if (!std::isfinite(v)) return;
    if (any) all.expand(v);
    else all = QCPRange(v, v);
    any = true;
    if (v <= 0) return;
    if (any_positive) positive.expand(v);
    else positive = QCPRange(v, v);
    any_positive = true;
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

void TimePlot::setLogScale(bool log) { setScale(log ? Scale::Log : Scale::Linear); }

void TimePlot::setScale(Scale scale) {
    if (scale_box_->currentIndex() != int(scale)) {
        const QSignalBlocker blocker(scale_box_);
        scale_box_->setCurrentIndex(int(scale));
    }
    scale_ = scale;
    const bool log = scale == Scale::Log;
    for (QCPAxis* axis : {plot()->yAxis, plot()->yAxis2}) {
        axis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
        if (log) axis->setTicker(QSharedPointer<QCPAxisTicker>(new LogTicker));
        else axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        axis->setNumberFormat(QStringLiteral("gbd"));
        axis->setNumberPrecision(6);
    }
    // The graphs hold symlog coordinates, or the values themselves: drawn again.
    updateGraphs();
    follow();
    emit needsReplot();
}

double TimePlot::shownValue(const QCPAxis* axis, double v) const {
    if (scale_ != Scale::Symlog) return v;
    return symlog(v, symlog_c_[axis == plot()->yAxis2 ? 1 : 0]);
}

void TimePlot::updateSymlogConstants() {
    if (scale_ != Scale::Symlog) return;
    double largest[2] = {0, 0};
    for (const Drawn& drawn : drawn_) {
        if (!drawn.raw_values.any) continue;
        const QCPRange& r = drawn.raw_values.all;
        double& l = largest[drawn.series.right_axis ? 1 : 0];
        l = std::max({l, std::abs(r.lower), std::abs(r.upper)});
    }
    QCPAxis* axes[2] = {plot()->yAxis, plot()->yAxis2};
    for (int a = 0; a < 2; ++a) {
        const double c = symlog_constant(largest[a]);
        if (c == symlog_c_[a] && dynamic_cast<SymlogTicker*>(axes[a]->ticker().data())) continue;
        symlog_c_[a] = c;
        axes[a]->setTicker(QSharedPointer<QCPAxisTicker>(new SymlogTicker(c)));
    }
}

void TimePlot::setSmoothing(double weight) {
    smoothing_ = std::clamp(weight, 0.0, 0.99);
    rebuild();
}

QString TimePlot::hiddenKey(const Drawn& drawn) const {
    return drawn.pinned ? QStringLiteral("\nrun ") + overlays_[size_t(drawn.overlay)].name : drawn.series.name;
}

bool TimePlot::visible(const Drawn& drawn) const { return !hidden_.contains(hiddenKey(drawn)); }

QString TimePlot::seriesLabel(const Drawn& drawn) const {
    if (!drawn.pinned) return drawn.series.name;
    return QStringLiteral("%1 · %2").arg(overlays_[size_t(drawn.overlay)].name.section(':', 0, 0), drawn.series.name);
}

void TimePlot::add(const Series& s, int overlay, const QString& legend_name) {
    QCustomPlot* p = plot();
    QCPAxis* value_axis = s.right_axis ? p->yAxis2 : p->yAxis;
    const bool pinned = overlay >= 0;
    // Another run is drawn in its own colour, its series told apart by lightness.
    const QColor color =
        pinned ? overlays_[size_t(overlay)].color.lighter(100 + 12 * (s.color % 5)) : series_color(s.color);
    auto make = [&](const QColor& c, double width) {
        QCPGraph* graph = p->addGraph(p->xAxis, value_axis);
        QPen pen(c, width);
        if (pinned) pen.setStyle(Qt::DashLine);
        graph->setPen(pen);
        graph->setAdaptiveSampling(true);
        graph->removeFromLegend();
        return graph;
    };
    Drawn drawn;
    drawn.series = s;
    drawn.pinned = pinned;
    drawn.overlay = overlay;
    // The band lies under its curve: added first, drawn first.
    if (!pinned && band_ != Band::Element) {
        QColor fill = color;
        fill.setAlpha(50);
        drawn.band_low = make(Qt::transparent, 0);
        drawn.band_high = make(Qt::transparent, 0);
        drawn.band_high->setBrush(fill);
        drawn.band_high->setChannelFillGraph(drawn.band_low);
    }
    drawn.legend_name = legend_name;
    const bool smoothed = smoothing_ > 0 && !s.steps;
    // While smoothing, the raw values stay in view faintly, as TensorBoard draws them.
    QColor raw_color = color;
    if (smoothed) raw_color.setAlpha(60);
    drawn.raw = make(raw_color, smoothed ? 1.0 : (pinned ? 1.6 : 1.4));
    drawn.raw->setName(legend_name);
    if (smoothed) {
        drawn.smooth = make(color, pinned ? 1.6 : 1.4);
        drawn.smooth->setName(legend_name);
    }
    const bool shown = visible(drawn);
    for (QCPGraph* graph : {drawn.raw, drawn.smooth, drawn.band_low, drawn.band_high})
        if (graph) graph->setVisible(shown);
    drawn_.push_back(std::move(drawn));
}

void TimePlot::push(Drawn& drawn, int64_t step, double v) {
    drawn.keys.push_back(float(step));
    // A NaN leaves a gap in the curve; infinities would wreck the axis range, so they do too.
    const bool finite = std::isfinite(v);
    drawn.raw_values.push(finite ? v : std::numeric_limits<double>::quiet_NaN());
    if (!finite && !drawn.pinned && (!non_finite_step_ || step < *non_finite_step_)) non_finite_step_ = step;
    if (!drawn.smooth) return;
    if (finite) {
        drawn.average = drawn.average * smoothing_ + (1 - smoothing_) * v;
        ++drawn.averaged;
    }
    // Dividing by 1 - w^n removes the average's pull towards its zero start.
    const double debias = 1 - std::pow(smoothing_, drawn.averaged);
    drawn.smooth_values.push(finite && debias > 0 ? drawn.average / debias : std::numeric_limits<double>::quiet_NaN());
}

void TimePlot::fill(Drawn& drawn, const TraceStore& store, int first) {
    const auto& records = store.records();
    for (size_t i = size_t(first); i < records.size(); ++i)
        if (const auto v = drawn.series.value(records[i])) push(drawn, records[i].step, *v);
    stale_ = true;
}

void TimePlot::fillCurrent(int first) {
    const auto& records = current_->records();
    const int batch = current_->info().batch;
    if (band_ == Band::Element || batch <= 0) {
        for (Drawn& drawn : drawn_)
            if (!drawn.pinned) fill(drawn, *current_, first);
        return;
    }
    // Each step's elements are sliced once and every series read from the slices.
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<StepRecord> slices;
    std::vector<double> values;
    for (size_t i = size_t(first); i < records.size(); ++i) {
        slices.clear();
        for (int n = 0; n < batch; ++n) slices.push_back(records.element(i, n));
        for (Drawn& drawn : drawn_) {
            if (drawn.pinned) continue;
            values.clear();
            bool any = false;
            for (const StepRecord& slice : slices)
                if (const auto v = drawn.series.value(slice)) {
                    any = true;
                    if (std::isfinite(*v)) values.push_back(*v);
                }
            if (!any) continue;
            double mean = nan, low = nan, high = nan;
            if (!values.empty()) {
                mean = 0;
                for (double v : values) mean += v;
                mean /= double(values.size());
                if (band_ == Band::MinMax) {
                    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
                    low = *lo;
                    high = *hi;
                } else {
                    double variance = 0;
                    for (double v : values) variance += (v - mean) * (v - mean);
                    const double deviation = std::sqrt(variance / double(values.size()));
                    low = mean - deviation;
                    high = mean + deviation;
                }
            }
            // A quantity only the observed element has (capacity, divergence) is its value alone.
            push(drawn, slices.front().step, mean);
            drawn.band_low_values.push(low);
            drawn.band_high_values.push(high);
        }
    }
    stale_ = true;
}

void TimePlot::setBand(Band band) {
    if (band == band_) return;
    band_ = band;
    rebuild();
}

std::vector<std::pair<QCPGraph*, QCPGraph*>> TimePlot::bandGraphs() const {
    std::vector<std::pair<QCPGraph*, QCPGraph*>> out;
    for (const Drawn& drawn : drawn_)
        if (drawn.band_low) out.push_back({drawn.band_low, drawn.band_high});
    return out;
}

int TimePlot::columns() const { return std::max(plot()->axisRect()->width(), kMinColumns); }

bool TimePlot::drawsEveryPoint() const {
    const long most = 4L * columns();
    return std::all_of(drawn_.begin(), drawn_.end(), [most](const Drawn& d) { return long(d.keys.size()) <= most; });
}

void TimePlot::updateGraphs() {
    const QCPRange x = plot()->xAxis->range();
    const int width = columns();
    QVector<double> keys, values;
    updateSymlogConstants();
    auto shown = [this](QCPGraph* graph, QVector<double>& v) {
        if (scale_ != Scale::Symlog) return;
        for (double& value : v) value = shownValue(graph->valueAxis(), value);
    };
    for (Drawn& drawn : drawn_) {
        decimate_min_max(drawn.keys, drawn.raw_values.data, x.lower, x.upper, width, keys, values);
        shown(drawn.raw, values);
        drawn.raw->setData(keys, values, true);
        // A single value (after the first step) is a point, not a line of no length: mark it.
        const QCPScatterStyle::ScatterShape shape =
            drawn.keys.size() == 1 ? QCPScatterStyle::ssDisc : QCPScatterStyle::ssNone;
        for (QCPGraph* graph : {drawn.raw, drawn.smooth})
            if (graph && graph->scatterStyle().shape() != shape) graph->setScatterStyle(QCPScatterStyle(shape, 6));
        if (drawn.band_low) {
            // The band's lower edge keeps each column's least value, its upper edge the greatest.
            for (const auto& [graph, edge] : {std::pair{drawn.band_low, &drawn.band_low_values},
                                              std::pair{drawn.band_high, &drawn.band_high_values}}) {
                decimate_min_max(drawn.keys, edge->data, x.lower, x.upper, width, keys, values);
                shown(graph, values);
                graph->setData(keys, values, true);
            }
        }
        if (!drawn.smooth) continue;
        decimate_min_max(drawn.keys, drawn.smooth_values.data, x.lower, x.upper, width, keys, values);
        shown(drawn.smooth, values);
        drawn.smooth->setData(keys, values, true);
    }
    decimated_range_ = x;
    decimated_columns_ = width;
    stale_ = false;
}

void TimePlot::rebuild() {
    QCustomPlot* p = plot();
    p->clearGraphs();
    drawn_.clear();
    graphs_.clear();
    non_finite_step_.reset();
    for (size_t o = 0; o < overlays_.size(); ++o) {
        const TraceStore* store = overlays_[o].store;
        if (!store || !store->has_run()) continue;
        bool first = true;
        // One legend entry stands for each other run, naming it (its leading "run N").
        const QString name = overlays_[o].name.section(':', 0, 0) + tr(" (dashed)");
        for (const Series& s : series(*store)) {
            add(s, int(o), first ? name : QString());
            fill(drawn_.back(), *store, 0);
            first = false;
        }
    }
    std::vector<Series> current;
    if (current_ && current_->has_run()) current = series(*current_);
    for (const Series& s : current) {
        add(s, -1, s.name);
        graphs_.push_back(drawn_.back().raw);
    }
    if (!current.empty()) fillCurrent(0);
    updateGraphs();
    set_axis_label(p->yAxis, yLabel());
    set_axis_label(p->yAxis2, y2Label());
    p->yAxis2->setVisible(std::any_of(current.begin(), current.end(), [](const Series& s) { return s.right_axis; }));
    updateLegend();
    updateNonFiniteMarker();
    updateCursor();
    emit needsReplot();
}

void TimePlot::appendFrom(int first) {
    if (!current_) return;
    fillCurrent(first);
    // A short run's graphs hold every point at once; a long one's are decimated at the next frame.
    if (drawsEveryPoint()) updateGraphs();
    updateLegend();
    updateNonFiniteMarker();
    updateCursor();
    emit needsReplot();
}

void TimePlot::setViewStep(int64_t step) {
    view_step_ = step;
    updateCursor();
    emit needsReplot();
}

void TimePlot::toggleSeries(QCPAbstractPlottable* plottable) {
    auto it = std::find_if(drawn_.begin(), drawn_.end(),
                           [plottable](const Drawn& d) { return d.raw == plottable || d.smooth == plottable; });
    if (it == drawn_.end()) return;
    const QString key = hiddenKey(*it);
    const bool show = hidden_.contains(key);
    if (show) hidden_.remove(key);
    else hidden_.insert(key);
    for (Drawn& drawn : drawn_) {
        if (hiddenKey(drawn) != key) continue;
        for (QCPGraph* graph : {drawn.raw, drawn.smooth, drawn.band_low, drawn.band_high})
            if (graph) graph->setVisible(show);
    }
    if (QCPPlottableLegendItem* entry = plot()->legend->itemWithPlottable(plottable))
        entry->setTextColor(show ? Qt::black : QColor(170, 170, 170));
    updateCursor();
    emit needsReplot();
}

void TimePlot::updateLegend() {
    QCPLegend* legend = plot()->legend;
    std::vector<QCPGraph*> wanted;
    for (const Drawn& drawn : drawn_)
        if (!drawn.legend_name.isEmpty() && !drawn.keys.empty())
            wanted.push_back(drawn.smooth ? drawn.smooth : drawn.raw);
    std::vector<QCPGraph*> listed;
    for (int i = 0; i < legend->itemCount(); ++i)
        if (auto* item = qobject_cast<QCPPlottableLegendItem*>(legend->item(i)))
            if (auto* graph = qobject_cast<QCPGraph*>(item->plottable())) listed.push_back(graph);
    if (listed != wanted) {
        legend->clearItems();
        for (QCPGraph* graph : wanted) {
            graph->addToLegend();
            if (!graph->visible()) legend->itemWithPlottable(graph)->setTextColor(QColor(170, 170, 170));
        }
    }
    fitDecorations();
}

void TimePlot::updateCursor() {
    const bool scrubbed = current_ && !current_->empty() && view_step_ < current_->last_step();
    cursor_->point1->setCoords(double(view_step_), 0);
    cursor_->point2->setCoords(double(view_step_), 1);
    cursor_->setVisible(scrubbed);
    const QString text = cursorText();
    cursor_label_->setVisible(scrubbed && !text.isEmpty());
    if (!cursor_label_->visible()) return;
    // One line per series with its colour's swatch, in as many columns as the axes' height needs.
    QCustomPlot* p = plot();
    QFont font = p->font();
    font.setPointSizeF(8);
    const QFontMetrics metrics(font);
    QStringList lines = text.split('\n');
    std::vector<QColor> colors{QColor()};  // the "step" line has no swatch
    for (bool others : {false, true})
        for (const Drawn& drawn : drawn_)
            if (drawn.pinned == others && visible(drawn))
                colors.push_back(others ? drawn.raw->pen().color() : series_color(drawn.series.color));
    const int line_height = metrics.height();
    const int swatch = 12, pad = 4;
    const QRect axes = p->axisRect()->rect();
    const int rows = std::max(2, std::min(int(lines.size()), (axes.height() - 8 - 2 * pad) / line_height));
    // As many columns as the axes' width holds; the lines past them are counted, not drawn (hover and
    // Copy data have every value).
    int widest = 0;
    for (int i = 0; i < lines.size(); ++i) widest = std::max(widest, metrics.horizontalAdvance(lines[i]) + swatch + 4);
    const int fitting = std::max(1, (axes.width() - 4 - 2 * pad + 10) / (widest + 10));
    if (lines.size() > rows * fitting) {
        const int hidden = int(lines.size()) - (rows * fitting - 1);
        lines = lines.mid(0, rows * fitting - 1);
        lines << tr("… %1 more").arg(hidden);
    }
    const int column_count = (int(lines.size()) + rows - 1) / rows;
    std::vector<int> widths(size_t(column_count), 0);
    for (int i = 0; i < lines.size(); ++i)
        widths[size_t(i / rows)] =
            std::max(widths[size_t(i / rows)], metrics.horizontalAdvance(lines[i]) + (i > 0 ? swatch + 4 : 0));
    int width = 2 * pad + 10 * (column_count - 1);
    for (int w : widths) width += w;
    const int height = 2 * pad + std::min(int(lines.size()), rows) * line_height;
    QPixmap pixmap(width, height);
    pixmap.fill(Qt::white);
    {
        QPainter painter(&pixmap);
        painter.setPen(QColor(170, 170, 170));
        painter.drawRect(0, 0, width - 1, height - 1);
        painter.setFont(font);
        int x = pad;
        for (int c = 0; c < column_count; ++c) {
            for (int r = 0; r < rows; ++r) {
                const int i = c * rows + r;
                if (i >= lines.size()) break;
                const int y = pad + r * line_height;
                int text_x = x;
                if (i > 0 && i < int(colors.size()) && !lines[i].startsWith(QChar(0x2026))) {
                    painter.fillRect(x, y + line_height / 2 - 1, swatch, 3, colors[size_t(i)]);
                    text_x += swatch + 4;
                } else if (i > 0) {
                    text_x += swatch + 4;
                }
                painter.setPen(Qt::black);
                painter.drawText(QRect(text_x, y, width, line_height), Qt::AlignLeft | Qt::AlignVCenter, lines[i]);
            }
            x += widths[size_t(c)] + 10;
        }
    }
    cursor_label_->setPixmap(pixmap);
    cursor_lines_ = lines;
    // Beside the cursor on the side with more room, kept inside the axes.
    const double cursor_x = p->xAxis->coordToPixel(double(view_step_));
    const bool left_half = cursor_x < axes.center().x();
    double left = left_half ? cursor_x + 8 : cursor_x - 8 - width;
    left = std::clamp(left, double(axes.left() + 2), double(std::max(axes.left() + 2, axes.right() - width - 2)));
    cursor_label_->topLeft->setCoords(left, axes.top() + 4);
}

QRect TimePlot::cursorBox() const {
    if (!cursor_label_->visible()) return {};
    const QPointF top_left = cursor_label_->topLeft->pixelPosition();
    return QRect(top_left.toPoint(), cursor_label_->pixmap().size());
}

QString TimePlot::shownNote() const { return note_->visible() ? note_->text() : QString(); }

QPixmap TimePlot::cursorPixmap() const { return cursor_label_->visible() ? cursor_label_->pixmap() : QPixmap(); }

QString TimePlot::cursorText() const {
    if (!current_ || current_->empty() || view_step_ >= current_->last_step()) return {};
    const std::optional<StepRecord> record = current_->at_step(view_step_);
    if (!record) return {};
    QStringList lines{band_ == Band::Element ? tr("step %1").arg(view_step_)
                                             : tr("step %1, batch mean").arg(view_step_)};
    int shown = 0;
    bool any = false;
    // The viewed run's series, then the other runs' (named by their run).
    std::vector<const Drawn*> order;
    for (bool others : {false, true})
        for (const Drawn& drawn : drawn_)
            if (drawn.pinned == others && visible(drawn)) order.push_back(&drawn);
    for (const Drawn* listed : order) {
        const Drawn& drawn = *listed;
        if (shown++ == kCursorLines) {
            lines << QStringLiteral("…");
            break;
        }
        // The value drawn at the step: the element's, or the batch's mean in a band.
        std::optional<double> v;
        const auto at = std::lower_bound(drawn.keys.begin(), drawn.keys.end(), double(view_step_));
        if (at != drawn.keys.end() && *at == double(view_step_))
            v = drawn.raw_values.data[size_t(at - drawn.keys.begin())];
        any = any || v.has_value();
        lines << QStringLiteral("%1: %2").arg(seriesLabel(drawn), v ? number(*v) : tr("none"));
    }
    // Nothing recorded at the step (a view that looks inside only while shown): no box of "none".
    return shown > 0 && any ? lines.join('\n') : QString();
}

void TimePlot::updateNonFiniteMarker() {
    const bool shown = non_finite_step_.has_value();
    non_finite_line_->setVisible(shown);
    non_finite_label_->setVisible(shown);
    if (!shown) return;
    const double step = double(*non_finite_step_);
    non_finite_line_->point1->setCoords(step, 0);
    non_finite_line_->point2->setCoords(step, 1);
    non_finite_label_->position->setCoords(step, 0.98);
    non_finite_label_->setText(tr("NaN/inf from step %1 ").arg(*non_finite_step_));
}

QString TimePlot::hoverText(const QPoint& position) const {
    if (!plot()->axisRect()->rect().contains(position)) return {};
    const double key = plot()->xAxis->pixelToCoord(position.x());
    double best = kHoverPixels;
    QString text;
    for (const Drawn& drawn : drawn_) {
        if (!visible(drawn) || drawn.keys.empty()) continue;
        const SeriesData& values = drawn.smooth ? drawn.smooth_values.data : drawn.raw_values.data;
        QCPGraph* graph = drawn.smooth ? drawn.smooth : drawn.raw;
        // The nearest step by key, from every value rather than the decimated ones drawn.
        size_t i = size_t(std::lower_bound(drawn.keys.begin(), drawn.keys.end(), key) - drawn.keys.begin());
        if (i == drawn.keys.size()) --i;
        if (i > 0 && std::abs(drawn.keys[i - 1] - key) < std::abs(drawn.keys[i] - key)) --i;
        if (std::isnan(values[i])) continue;
        const double dx = plot()->xAxis->coordToPixel(drawn.keys[i]) - position.x();
        const double dy = graph->valueAxis()->coordToPixel(shownValue(graph->valueAxis(), values[i])) - position.y();
        const double distance = std::hypot(dx, dy);
        if (distance >= best) continue;
        best = distance;
        const QString name = drawn.pinned ? tr("%1, element %2: %3")
                                                .arg(overlays_[size_t(drawn.overlay)].name)
                                                .arg(overlays_[size_t(drawn.overlay)].store->info().observed)
                                                .arg(drawn.series.name)
                                          : drawn.series.name;
        text = tr("step %1\n%2: %3").arg(qint64(drawn.keys[i])).arg(name, number(values[i]));
        if (drawn.smooth) text += tr(" (smoothed; raw %1)").arg(number(drawn.raw_values.data[i]));
    }
    return text;
}

void TimePlot::hover(const QPoint& position) {
    const QString text = hoverText(position);
    if (text.isEmpty()) QToolTip::hideText();
    else QToolTip::showText(plot()->mapToGlobal(position), text, plot());
}

QString TimePlot::csv() const {
    // One row per step, one column per series of the current run (then the pinned run's); a batch
    // band adds its low and high edges after each mean.
    struct Column {
        QString name;
        const SeriesData* keys;
        const SeriesData* values;
    };
    std::vector<Column> table;
    for (const Drawn& drawn : drawn_) {
        table.push_back({columnName(drawn), &drawn.keys, &drawn.raw_values.data});
        if (!drawn.band_low) continue;
        const QString edge = band_ == Band::MinMax ? tr("batch min") : tr("batch mean − std");
        const QString other = band_ == Band::MinMax ? tr("batch max") : tr("batch mean + std");
        table.push_back(
            {QStringLiteral("%1 (%2)").arg(drawn.series.name, edge), &drawn.keys, &drawn.band_low_values.data});
        table.push_back(
            {QStringLiteral("%1 (%2)").arg(drawn.series.name, other), &drawn.keys, &drawn.band_high_values.data});
    }
    std::map<double, std::vector<QString>> rows;
    QStringList header{QStringLiteral("step")};
    const int columns = int(table.size());
    for (int c = 0; c < columns; ++c) {
        const Column& column = table[size_t(c)];
        header << column.name;
        for (size_t i = 0; i < column.keys->size(); ++i) {
            auto& row = rows[(*column.keys)[i]];
            row.resize(size_t(columns));
            row[size_t(c)] = exact((*column.values)[i]);
        }
    }
    for (QString& name : header)
        if (name.contains(',') || name.contains('"')) name = '"' + name.replace('"', "\"\"") + '"';
    QString out = header.join(',') + '\n';
    for (const auto& [step, values] : rows) {
        out += QString::number(qint64(step));
        for (const QString& v : values) out += ',' + v;
        out += '\n';
    }
    return out;
}

QString TimePlot::columnName(const Drawn& drawn) const {
    const TraceStore* store = drawn.pinned ? overlays_[size_t(drawn.overlay)].store : current_;
    const int element = store ? store->info().observed : 0;
    if (drawn.pinned)
        return tr("%1 (batch element %2 of %3)")
            .arg(drawn.series.name)
            .arg(element)
            .arg(overlays_[size_t(drawn.overlay)].name);
    if (drawn.band_low) return tr("%1 (batch mean)").arg(drawn.series.name);
    return tr("%1 (batch element %2)").arg(drawn.series.name).arg(element);
}

bool TimePlot::valueRange(QCPAxis* axis, QCPRange& range) const {
    bool any = false;
    const bool log = axis->scaleType() == QCPAxis::stLogarithmic;
    for (const Drawn& drawn : drawn_) {
        if (drawn.raw->valueAxis() != axis) continue;
        for (const auto& [graph, values] :
             {std::pair{drawn.raw, &drawn.raw_values}, std::pair{drawn.smooth, &drawn.smooth_values},
              std::pair{drawn.band_low, &drawn.band_low_values}, std::pair{drawn.band_high, &drawn.band_high_values}}) {
            if (!graph || !drawn.raw->visible() || !(log ? values->any_positive : values->any)) continue;
            QCPRange r = log ? values->positive : values->all;
            r = QCPRange(shownValue(axis, r.lower), shownValue(axis, r.upper));
            if (any) range.expand(r);
            else range = r;
            any = true;
        }
    }
    return any;
}

void TimePlot::fitAxes() {
    QCustomPlot* p = plot();
    const double base = current_ ? double(current_->base_step()) : 0;
    bool any_key = false;
    QCPRange x(base, base + kMinSteps);
    for (const Drawn& drawn : drawn_) {
        if (drawn.keys.empty()) continue;
        const QCPRange r(drawn.keys.front(), drawn.keys.back());
        if (any_key) x.expand(r);
        else x = r;
        any_key = true;
    }
    x.lower = std::min(x.lower, base);
    p->xAxis->setRange(x.lower, std::max(x.upper, x.lower + kMinSteps));
    fitValueAxes(false);
}

bool TimePlot::valueRangeIn(QCPAxis* axis, const QCPRange& keys, QCPRange& range) const {
    bool any = false;
    const bool log = axis->scaleType() == QCPAxis::stLogarithmic;
    for (const Drawn& drawn : drawn_) {
        if (drawn.raw->valueAxis() != axis) continue;
        for (const auto& [graph, values] :
             {std::pair{drawn.raw, &drawn.raw_values}, std::pair{drawn.smooth, &drawn.smooth_values},
              std::pair{drawn.band_low, &drawn.band_low_values}, std::pair{drawn.band_high, &drawn.band_high_values}}) {
            if (!graph || !drawn.raw->visible()) continue;
            const auto begin = std::lower_bound(drawn.keys.begin(), drawn.keys.end(), keys.lower);
            const auto end = std::upper_bound(drawn.keys.begin(), drawn.keys.end(), keys.upper);
            for (auto it = begin; it != end; ++it) {
                const double v = shownValue(axis, values->data[size_t(it - drawn.keys.begin())]);
                if (!std::isfinite(v) || (log && v <= 0)) continue;
                if (any) range.expand(v);
                else range = QCPRange(v, v);
                any = true;
            }
        }
    }
    return any;
}

void TimePlot::fitValueAxes(bool shown_steps_only) {
    QCustomPlot* p = plot();
    for (QCPAxis* axis : {p->yAxis, p->yAxis2}) {
        const bool log = axis->scaleType() == QCPAxis::stLogarithmic;
        QCPRange range;
        // An empty plot does not keep the last run's range.
        if (!(shown_steps_only ? valueRangeIn(axis, p->xAxis->range(), range) : valueRange(axis, range))) {
            if (!shown_steps_only) axis->setRange(log ? QCPRange(0.1, 10) : QCPRange(0, 1));
            continue;
        }
        if (log) {
            const double pad = range.upper > range.lower ? std::pow(range.upper / range.lower, 0.05) : 2.0;
            axis->setRange(range.lower / pad, range.upper * pad);
            continue;
        }
        const double magnitude = std::max(std::abs(range.lower), std::abs(range.upper));
        double margin = std::max(range.size() * 0.06, magnitude * 0.02);
        // A constant series (a linear state's fixed bytes) gets an axis of its own scale, from zero.
        if (range.size() <= magnitude * 1e-9) margin = std::max(magnitude * 0.1, 1e-9);
        const double lower = range.lower >= 0 && (range.size() <= magnitude * 1e-9 || range.lower - margin < 0)
                                 ? 0.0
                                 : range.lower - margin;
        axis->setRange(lower, range.upper + margin);
    }
}

void TimePlot::refresh() {
    // The note stays while no series has a value, whatever the legend would list (a run without a branch).
    const bool any = std::any_of(drawn_.begin(), drawn_.end(), [](const Drawn& d) { return !d.keys.empty(); });
    note_->setText(emptyNote());
    note_->setVisible(!any);
    fitting_ = true;
    // Zoomed in time only, the values fit the steps shown.
    if (following()) fitAxes();
    else if (!valueAxisChosen()) fitValueAxes(true);
    fitting_ = false;
    if (stale_ || plot()->xAxis->range() != decimated_range_ || columns() != decimated_columns_) updateGraphs();
    // As many value labels as the axes' height holds: a short plot (1280x720) gets fewer, not overlapping ones.
    const int labels = std::clamp(plot()->axisRect()->height() / 40, 3, 8);
    for (QCPAxis* axis : {plot()->yAxis, plot()->yAxis2})
        if (axis->ticker()->tickCount() != labels) axis->ticker()->setTickCount(labels);
    updateCursor();
    plot()->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace stepscope::ui
