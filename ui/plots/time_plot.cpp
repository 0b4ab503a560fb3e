// Series over steps: appended in batches, smoothed on request, scaled to the data unless the user has
// zoomed, a cursor with the values at the viewed step, and a marker where values stop being finite.
#include "plots/time_plot.h"

#include <QCheckBox>
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
constexpr int kCursorLines = 12;
// Before the plot is laid out its axis rect is tiny: decimate for at least this many columns.
constexpr int kMinColumns = 200;

QString number(double v) { return QLocale::c().toString(v, 'g', 6); }
}  // namespace

TimePlot::TimePlot(const QString& title, const QString& file_stem, QWidget* parent)
    : PlotView(title, file_stem, parent), log_(new QCheckBox(tr("log scale"))) {
    QCustomPlot* p = plot();
    p->xAxis->setLabel(QStringLiteral("step"));
    p->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(
        new TokenStepTicker<QCPAxisTicker>([this] { return current_; }, QStringLiteral("\n"))));
    cursor_ = new QCPItemStraightLine(p);
    cursor_->setPen(QPen(QColor(90, 90, 90), 1, Qt::DashLine));
    cursor_->setVisible(false);
    cursor_label_ = new QCPItemText(p);
    cursor_label_->position->setTypeX(QCPItemPosition::ptPlotCoords);
    cursor_label_->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    cursor_label_->setTextAlignment(Qt::AlignLeft);
    cursor_label_->setBrush(QColor(255, 255, 255, 225));
    cursor_label_->setPen(QPen(QColor(190, 190, 190)));
    cursor_label_->setPadding(QMargins(4, 2, 4, 2));
    QFont small = p->font();
    small.setPointSizeF(8);
    cursor_label_->setFont(small);
    cursor_label_->setVisible(false);
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
    log_->setToolTip(tr("Logarithmic value axis (non-positive values are not drawn on it)"));
    trailingControls()->addWidget(log_);
    connect(log_, &QCheckBox::toggled, this, &TimePlot::setLogScale);
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

void TimePlot::setLogScale(bool log) {
    if (log_->isChecked() != log) {
        const QSignalBlocker blocker(log_);
        log_->setChecked(log);
    }
    log_scale_ = log;
    for (QCPAxis* axis : {plot()->yAxis, plot()->yAxis2}) {
        axis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
        if (log) axis->setTicker(QSharedPointer<QCPAxisTicker>(new LogTicker));
        else axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        axis->setNumberFormat(QStringLiteral("gbd"));
        axis->setNumberPrecision(6);
    }
    follow();
    emit needsReplot();
}

void TimePlot::setSmoothing(double weight) {
    smoothing_ = std::clamp(weight, 0.0, 0.99);
    rebuild();
}

QString TimePlot::hiddenKey(const Drawn& drawn) const {
    return drawn.pinned ? QStringLiteral("\npinned") : drawn.series.name;
}

bool TimePlot::visible(const Drawn& drawn) const { return !hidden_.contains(hiddenKey(drawn)); }

void TimePlot::add(const Series& s, bool pinned, const QString& legend_name) {
    QCustomPlot* p = plot();
    QCPAxis* value_axis = s.right_axis ? p->yAxis2 : p->yAxis;
    const QColor color = pinned ? pinned_color(s.color) : series_color(s.color);
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
    const bool smoothed = smoothing_ > 0;
    // While smoothing, the raw values stay in view faintly, as TensorBoard draws them.
    QColor raw_color = color;
    if (smoothed) raw_color.setAlpha(60);
    drawn.raw = make(raw_color, smoothed ? 1.0 : (pinned ? 1.6 : 1.4));
    drawn.raw->setName(legend_name);
    if (smoothed) {
        drawn.smooth = make(color, pinned ? 1.6 : 1.4);
        drawn.smooth->setName(legend_name);
    }
    QCPGraph* labelled = smoothed ? drawn.smooth : drawn.raw;
    const bool shown = visible(drawn);
    drawn.raw->setVisible(shown);
    if (drawn.smooth) drawn.smooth->setVisible(shown);
    if (!legend_name.isEmpty()) {
        labelled->addToLegend();
        if (!shown) p->legend->itemWithPlottable(labelled)->setTextColor(QColor(170, 170, 170));
    }
    drawn_.push_back(std::move(drawn));
}

void TimePlot::fill(Drawn& drawn, const TraceStore& store, int first) {
    const auto& records = store.records();
    for (size_t i = size_t(first); i < records.size(); ++i) {
        const auto v = drawn.series.value(records[i]);
        if (!v) continue;
        drawn.keys.push_back(double(records[i].step));
        // A NaN leaves a gap in the curve; infinities would wreck the axis range, so they do too.
        const bool finite = std::isfinite(*v);
        drawn.raw_values.push(finite ? *v : std::numeric_limits<double>::quiet_NaN());
        if (!finite && !drawn.pinned && (!non_finite_step_ || records[i].step < *non_finite_step_))
            non_finite_step_ = records[i].step;
        if (!drawn.smooth) continue;
        if (finite) {
            drawn.average = drawn.average * smoothing_ + (1 - smoothing_) * *v;
            ++drawn.averaged;
        }
        // Dividing by 1 - w^n removes the average's pull towards its zero start.
        const double debias = 1 - std::pow(smoothing_, drawn.averaged);
        drawn.smooth_values.push(finite && debias > 0 ? drawn.average / debias
                                                      : std::numeric_limits<double>::quiet_NaN());
    }
    stale_ = true;
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
    for (Drawn& drawn : drawn_) {
        decimate_min_max(drawn.keys, drawn.raw_values.data, x.lower, x.upper, width, keys, values);
        drawn.raw->setData(keys, values, true);
        if (!drawn.smooth) continue;
        decimate_min_max(drawn.keys, drawn.smooth_values.data, x.lower, x.upper, width, keys, values);
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
    if (pinned_ && pinned_->has_run()) {
        bool first = true;
        // One legend entry stands for the whole pinned run, naming the batch element it follows.
        const QString name = tr("pinned, element %1").arg(pinned_->info().observed);
        for (const Series& s : series(*pinned_)) {
            add(s, true, first ? name : QString());
            fill(drawn_.back(), *pinned_, 0);
            first = false;
        }
    }
    std::vector<Series> current;
    if (current_ && current_->has_run()) current = series(*current_);
    for (const Series& s : current) {
        add(s, false, s.name);
        fill(drawn_.back(), *current_, 0);
        graphs_.push_back(drawn_.back().raw);
    }
    updateGraphs();
    set_axis_label(p->yAxis, yLabel());
    set_axis_label(p->yAxis2, y2Label());
    p->yAxis2->setVisible(std::any_of(current.begin(), current.end(), [](const Series& s) { return s.right_axis; }));
    fitDecorations();
    updateNonFiniteMarker();
    updateCursor();
    emit needsReplot();
}

void TimePlot::appendFrom(int first) {
    if (!current_) return;
    for (Drawn& drawn : drawn_)
        if (!drawn.pinned) fill(drawn, *current_, first);
    // A short run's graphs hold every point at once; a long one's are decimated at the next frame.
    if (drawsEveryPoint()) updateGraphs();
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
        drawn.raw->setVisible(show);
        if (drawn.smooth) drawn.smooth->setVisible(show);
    }
    if (QCPPlottableLegendItem* entry = plot()->legend->itemWithPlottable(plottable))
        entry->setTextColor(show ? Qt::black : QColor(170, 170, 170));
    updateCursor();
    emit needsReplot();
}

void TimePlot::updateCursor() {
    const bool scrubbed = current_ && !current_->empty() && view_step_ < current_->last_step();
    cursor_->point1->setCoords(double(view_step_), 0);
    cursor_->point2->setCoords(double(view_step_), 1);
    cursor_->setVisible(scrubbed);
    const QString text = cursorText();
    cursor_label_->setText(text);
    cursor_label_->setVisible(scrubbed && !text.isEmpty());
    // The values sit on the side of the cursor with more room.
    const QCPRange x = plot()->xAxis->range();
    const bool left_half = view_step_ < x.center();
    cursor_label_->setPositionAlignment((left_half ? Qt::AlignLeft : Qt::AlignRight) | Qt::AlignTop);
    cursor_label_->position->setCoords(double(view_step_) + (left_half ? 0.01 : -0.01) * x.size(), 0.02);
}

QString TimePlot::cursorText() const {
    if (!current_ || current_->empty() || view_step_ >= current_->last_step()) return {};
    const StepRecord* record = current_->at_step(view_step_);
    if (!record) return {};
    QStringList lines{tr("step %1").arg(view_step_)};
    int shown = 0;
    for (const Drawn& drawn : drawn_) {
        if (drawn.pinned || !visible(drawn)) continue;
        if (shown++ == kCursorLines) {
            lines << QStringLiteral("…");
            break;
        }
        const auto v = drawn.series.value(*record);
        lines << QStringLiteral("%1: %2").arg(drawn.series.name, v ? number(*v) : tr("none"));
    }
    return shown > 0 ? lines.join('\n') : QString();
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
        const std::vector<double>& values = drawn.smooth ? drawn.smooth_values.data : drawn.raw_values.data;
        QCPGraph* graph = drawn.smooth ? drawn.smooth : drawn.raw;
        // The nearest step by key, from every value rather than the decimated ones drawn.
        size_t i = size_t(std::lower_bound(drawn.keys.begin(), drawn.keys.end(), key) - drawn.keys.begin());
        if (i == drawn.keys.size()) --i;
        if (i > 0 && std::abs(drawn.keys[i - 1] - key) < std::abs(drawn.keys[i] - key)) --i;
        if (std::isnan(values[i])) continue;
        const double dx = plot()->xAxis->coordToPixel(drawn.keys[i]) - position.x();
        const double dy = graph->valueAxis()->coordToPixel(values[i]) - position.y();
        const double distance = std::hypot(dx, dy);
        if (distance >= best) continue;
        best = distance;
        const QString name = drawn.pinned ? tr("pinned %1, element %2: %3")
                                                .arg(pinned_->info().label)
                                                .arg(pinned_->info().observed)
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
    // One row per step, one column per series of the current run (then the pinned run's).
    std::map<double, std::vector<QString>> rows;
    QStringList header{QStringLiteral("step")};
    const int columns = int(drawn_.size());
    for (int c = 0; c < columns; ++c) {
        const Drawn& drawn = drawn_[size_t(c)];
        header << (drawn.pinned ? QStringLiteral("pinned ") + drawn.series.name : drawn.series.name);
        for (size_t i = 0; i < drawn.keys.size(); ++i) {
            auto& row = rows[drawn.keys[i]];
            row.resize(size_t(columns));
            row[size_t(c)] = number(drawn.raw_values.data[i]);
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

bool TimePlot::valueRange(QCPAxis* axis, QCPRange& range) const {
    bool any = false;
    const bool log = axis->scaleType() == QCPAxis::stLogarithmic;
    for (const Drawn& drawn : drawn_) {
        if (drawn.raw->valueAxis() != axis) continue;
        for (const auto& [graph, values] : {std::pair{drawn.raw, &drawn.raw_values},
                                            std::pair{drawn.smooth, &drawn.smooth_values}}) {
            if (!graph || !graph->visible() || !(log ? values->any_positive : values->any)) continue;
            const QCPRange& r = log ? values->positive : values->all;
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
    for (QCPAxis* axis : {p->yAxis, p->yAxis2}) {
        const bool log = axis->scaleType() == QCPAxis::stLogarithmic;
        QCPRange range;
        // An empty plot does not keep the last run's range.
        if (!valueRange(axis, range)) {
            axis->setRange(log ? QCPRange(0.1, 10) : QCPRange(0, 1));
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
    const bool has_current =
        std::any_of(graphs_.begin(), graphs_.end(), [](QCPGraph* g) { return !g->data()->isEmpty(); });
    const bool has_pinned = pinned_ && pinned_->has_run() && !pinned_->empty();
    note_->setText(emptyNote());
    note_->setVisible(!has_current && !has_pinned);
    fitting_ = true;
    if (following()) fitAxes();
    fitting_ = false;
    if (stale_ || plot()->xAxis->range() != decimated_range_ || columns() != decimated_columns_) updateGraphs();
    updateCursor();
    plot()->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace stepscope::ui
