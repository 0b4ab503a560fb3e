// Two runs' attention maps cell for cell: which rows of the other run match the viewed map's, and their drawing.
#include "plots/attention_compare.h"

#include <QObject>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "plots/plot_style.h"

namespace stepscope::ui {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Steps a .. b as "step a" or "steps a to b".
QString step_range(int64_t a, int64_t b) {
    return a == b ? QObject::tr("step %1").arg(a) : QObject::tr("steps %1 to %2").arg(a).arg(b);
}

// The keys of `row` inside the map's columns key_lo .. key_hi - 1, as [begin, end).
std::pair<int, int> keys_in(const AttentionRows& row, int key_lo, int key_hi) {
    const int begin = std::max(row.first_key, key_lo), end = std::min(row.first_key + row.keys, key_hi);
    return {begin, std::max(begin, end)};
}

void style_compared_axes(QCPAxisRect* axes) {
    axes->setupFullAxesBox(true);
    QCPAxis* x = axes->axis(QCPAxis::atBottom);
    QCPAxis* y = axes->axis(QCPAxis::atLeft);
    y->setRangeReversed(true);  // query steps run down, as in the viewed map
    // The rows are the viewed map's: its axis names them once.
    y->setTickLabels(false);
    for (QCPAxis* axis : {x, y}) {
        QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
        ticker->setTickStep(1);
        ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        axis->setTicker(ticker);
    }
    axes->axis(QCPAxis::atTop)->setLabelPadding(2);
    // Without step labels of their own they need only narrow margins: more of a narrow pane goes to the cells.
    axes->setMinimumSize(30, 50);
    axes->setMinimumMargins(QMargins(6, 15, 6, 15));
}

}  // namespace

const AttentionRows* attention_rows(const TraceStore& store, int64_t step, int layer, AttentionRole role) {
    // The rows are kept in the store: a pointer to them outlives the step's view.
    const std::optional<StepRecord> rec = store.at_step(step);
    if (!rec) return nullptr;
    const AttentionRows* found = nullptr;
    for (const AttentionRows& a : rec->attention)
        if (a.layer == layer && a.role == role) found = &a;
    return found;
}

std::vector<double> attention_cells(const std::vector<const AttentionRows*>& rows, int head, int key_lo, int columns) {
    std::vector<double> cells(rows.size() * size_t(columns), kNaN);
    for (size_t q = 0; q < rows.size(); ++q) {
        const AttentionRows* a = rows[q];
        if (!a || head >= a->heads) continue;
        for (int k = 0; k < columns; ++k) {
            const int key = key_lo + k;
            if (key >= a->first_key && key < a->first_key + a->keys)
                cells[q * size_t(columns) + size_t(k)] =
                    a->weights[size_t(head) * size_t(a->keys) + size_t(key - a->first_key)];
        }
    }
    return cells;
}

OtherRows other_rows(const TraceStore& viewed_run, const std::vector<const AttentionRows*>& viewed, int64_t first,
                     int key_lo, int key_hi, const TraceStore& other, const QString& other_name, int layer,
                     AttentionRole role, int head) {
    OtherRows out;
    auto refuse = [&out, &other_name](const QString& why) {
        out.rows.clear();
        out.missing = QObject::tr("No comparison: %1 %2").arg(other_name, why);
        return out;
    };
    if (!other.has_run() || other.empty()) return refuse(QObject::tr("has no steps"));
    if (role == AttentionRole::Cross && !other.decoder()) return refuse(QObject::tr("has no cross attention"));
    if (layer >= other.layers() || head >= other.heads(role))
        return refuse(QObject::tr("has no layer %1, head %2").arg(layer).arg(head));
    if (!other.kind(role).attention_map)
        return refuse(
            QObject::tr("(%1) has no attention map").arg(QString::fromStdString(other.kind(role).description)));
    if (other.info().observed != viewed_run.info().observed)
        return refuse(QObject::tr("shows batch element %1, not %2 (its batch holds %3)")
                          .arg(other.info().observed)
                          .arg(viewed_run.info().observed)
                          .arg(other.info().batch));
    // The steps the viewed map has rows at that the other run lacks, and those whose keys differ.
    int64_t unseen_lo = -1, unseen_hi = -1, keys_at = -1;
    bool no_step = false;
    for (size_t q = 0; q < viewed.size(); ++q) {
        const AttentionRows* a = viewed[q];
        out.rows.push_back(nullptr);
        if (!a || head >= a->heads) continue;
        const int64_t step = first + int64_t(q);
        const AttentionRows* b = attention_rows(other, step, layer, role);
        if (!b || head >= b->heads) {
            if (unseen_lo < 0) unseen_lo = step;
            unseen_hi = step;
            no_step = no_step || !other.at_step(step);
            continue;
        }
        // Same keys in the map's columns, and none outside them the viewed row does not have either (a cross
        // attention over a longer memory, a self attention kept from another step).
        const bool same = keys_in(*a, key_lo, key_hi) == keys_in(*b, key_lo, key_hi) &&
                          (role == AttentionRole::Self || (a->first_key == b->first_key && a->keys == b->keys));
        if (!same && keys_at < 0) keys_at = step;
        out.rows.back() = b;
    }
    if (unseen_lo >= 0) {
        out.unobserved = !no_step;
        return refuse(
            no_step ? QObject::tr("has no record of %1 (it ends at step %2)")
                          .arg(step_range(unseen_lo, unseen_hi))
                          .arg(other.last_step())
                    : QObject::tr("did not observe layer %1 at %2").arg(layer).arg(step_range(unseen_lo, unseen_hi)));
    }
    if (keys_at >= 0) return refuse(QObject::tr("has another number of keys at step %1").arg(keys_at));
    return out;
}

std::vector<double> cell_difference(const std::vector<double>& viewed, const std::vector<double>& other) {
    std::vector<double> out(viewed.size(), kNaN);
    for (size_t i = 0; i < viewed.size() && i < other.size(); ++i) out[i] = viewed[i] - other[i];
    return out;
}

ComparedMaps::ComparedMaps(QCustomPlot* plot, QCPColorScale* shared, QCPMarginGroup* margins)
    : other_axes_(new QCPAxisRect(plot)),
      difference_axes_(new QCPAxisRect(plot)),
      difference_scale_(new QCPColorScale(plot)) {
    for (QCPAxisRect* axes : {other_axes_, difference_axes_}) {
        style_compared_axes(axes);
        axes->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
        for (QCPAxis* axis : axes->axes()) {
            axis->setLabelFont(plot->xAxis->labelFont());
            axis->setTickLabelFont(plot->xAxis->tickLabelFont());
        }
        // A drag or the wheel over either map moves the viewed map's axes, which all three follow.
        axes->setRangeDragAxes(plot->xAxis, plot->yAxis);
        axes->setRangeZoomAxes(plot->xAxis, plot->yAxis);
        axes->setVisible(false);
    }
    other_ = new QCPColorMap(other_axes_->axis(QCPAxis::atBottom), other_axes_->axis(QCPAxis::atLeft));
    difference_ = new QCPColorMap(difference_axes_->axis(QCPAxis::atBottom), difference_axes_->axis(QCPAxis::atLeft));
    for (QCPColorMap* map : {other_, difference_}) map->setInterpolate(false);
    // The other run's map takes the viewed map's scale: one colour, one weight, in both.
    other_->setColorScale(shared);
    difference_->setColorScale(difference_scale_);
    difference_scale_->setType(QCPAxis::atRight);
    difference_scale_->setBarWidth(14);
    difference_scale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    difference_scale_->setDataScaleType(QCPAxis::stLinear);
    difference_scale_->axis()->setTicker(QSharedPointer<QCPAxisTicker>(new EndsTicker));
    difference_scale_->axis()->setNumberFormat(QStringLiteral("gb"));
    difference_scale_->axis()->setNumberPrecision(3);
    difference_scale_->axis()->setLabelFont(plot->xAxis->labelFont());
    difference_scale_->axis()->setTickLabelFont(plot->xAxis->tickLabelFont());
    // After setColorScale, which hands the scale's gradient to the map: white is 0, grey a cell either map leaves
    // blank.
    QCPColorGradient gradient = diverging_gradient();
    gradient.setNanHandling(QCPColorGradient::nhNanColor);
    gradient.setNanColor(QColor(225, 225, 225));
    difference_scale_->setGradient(gradient);
    difference_scale_->setVisible(false);
}

void ComparedMaps::setShown(bool shown) {
    for (QCPLayoutElement* element :
         std::initializer_list<QCPLayoutElement*>{other_axes_, difference_axes_, difference_scale_})
        element->setVisible(shown);
    shown_ = shown;
}

void ComparedMaps::draw(const std::vector<double>& other_shown, const std::vector<double>& difference, int rows,
                        int columns, double first_key, int64_t first_row, int64_t last_row, const QString& viewed_name,
                        const QString& other_name) {
    // As the viewed map: an axis of one cell holds it twice, half a cell either side of its coordinate.
    const int map_columns = std::max(2, columns), map_rows = std::max(2, rows);
    const QCPRange keys =
        columns > 1 ? QCPRange(first_key, first_key + columns - 1) : QCPRange(first_key - 0.5, first_key + 0.5);
    const QCPRange steps = rows > 1 ? QCPRange(double(first_row), double(last_row))
                                    : QCPRange(double(first_row) - 0.5, double(first_row) + 0.5);
    double reach = 0;
    for (double d : difference)
        if (std::isfinite(d)) reach = std::max(reach, std::abs(d));
    const std::pair<QCPColorMap*, const std::vector<double>*> maps[] = {{other_, &other_shown},
                                                                        {difference_, &difference}};
    for (const auto& [map, cells] : maps) {
        map->data()->setSize(map_columns, map_rows);
        map->data()->setRange(keys, steps);
        for (int q = 0; q < map_rows; ++q)
            for (int k = 0; k < map_columns; ++k)
                map->data()->setCell(
                    k, q, (*cells)[size_t(std::min(q, rows - 1)) * size_t(columns) + size_t(std::min(k, columns - 1))]);
    }
    // Centred at 0, so white is no difference and the sign reads by colour; two equal maps still get a labelled range.
    if (reach == 0) reach = 1e-9;
    difference_scale_->setDataRange(QCPRange(-reach, reach));
    difference_scale_->setProperty("fullLabel",
                                   QObject::tr("difference %1 − %2 (0 white)").arg(viewed_name, other_name));
    other_axes_->setProperty("fullLabel", other_name);
    difference_axes_->setProperty("fullLabel", QObject::tr("%1 − %2").arg(viewed_name, other_name));
}

void ComparedMaps::matchAxes(const QCPAxis* x, const QCPAxis* y) {
    for (QCPAxisRect* axes : {other_axes_, difference_axes_}) {
        QCPAxis* ox = axes->axis(QCPAxis::atBottom);
        QCPAxis* oy = axes->axis(QCPAxis::atLeft);
        if (ox->range() != x->range()) ox->setRange(x->range());
        if (oy->range() != y->range()) oy->setRange(y->range());
        if (ox->ticker()->tickCount() != x->ticker()->tickCount()) ox->ticker()->setTickCount(x->ticker()->tickCount());
        if (oy->ticker()->tickCount() != y->ticker()->tickCount()) oy->ticker()->setTickCount(y->ticker()->tickCount());
        if (ox->label() != x->label()) ox->setLabel(x->label());
    }
}

void ComparedMaps::fitLabels() {
    for (QCPAxisRect* axes : {other_axes_, difference_axes_}) {
        // The name over a narrow map (a 1280x720 window) is cut rather than run into its neighbour.
        QCPAxis* top = axes->axis(QCPAxis::atTop);
        const QString label =
            QFontMetrics(top->labelFont())
                .elidedText(axes->property("fullLabel").toString(), Qt::ElideRight, axes->outerRect().width() + 8);
        if (top->label() != label) top->setLabel(label);
    }
    QCPAxis* bar = difference_scale_->axis();
    const QString label = QFontMetrics(bar->labelFont())
                              .elidedText(difference_scale_->property("fullLabel").toString(), Qt::ElideRight,
                                          std::max(40, difference_scale_->outerRect().height() - 4));
    if (bar->label() != label) bar->setLabel(label);
}

}  // namespace stepscope::ui
