// Plot layout in resizable splitters, pinning for comparison, and redraws coalesced on a frame timer.
#include "plot_panel.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "attention_plot.h"
#include "output_plot.h"
#include "performance_plot.h"
#include "state_plot.h"

namespace stepscope::ui {

namespace {
// About 40 frames a second: fluid, and far below the step rate of small models.
constexpr int kFrameMs = 25;

bool finite(const std::vector<float>& values) {
    return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
}

// Where a record first holds a non-finite value, earliest layer first (a NaN spreads to later
// layers and the output); empty when every value is finite.
QString non_finite_place(const StepRecord& r) {
    for (size_t l = 0; l < r.layers.size(); ++l) {
        const LayerNorms& layer = r.layers[l];
        if (!finite(layer.self.first) || !finite(layer.self.second))
            return PlotPanel::tr("layer %1 (self attention state)").arg(l);
        if (!finite(layer.cross.first) || !finite(layer.cross.second))
            return PlotPanel::tr("layer %1 (cross attention state)").arg(l);
    }
    if (!finite(r.output) || !std::isfinite(r.output_norm)) return PlotPanel::tr("the output");
    return {};
}
}

PlotPanel::PlotPanel(const TraceStore* current, QWidget* parent)
    : QWidget(parent),
      current_(current),
      outputs_(new OutputPlot),
      states_(new StatePlot),
      attention_(new AttentionPlot),
      performance_(new PerformancePlot),
      observed_(new QSpinBox),
      pinned_label_(new QLabel),
      unpin_button_(new QPushButton(tr("Unpin"))),
      smoothing_(new QSlider(Qt::Horizontal)),
      smoothing_label_(new QLabel) {
    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(6, 2, 6, 0);
    bar->addWidget(new QLabel(tr("Batch element shown:")));
    observed_->setToolTip(tr("The sequence of the batch the plots follow; every element is recorded"));
    // Typing "12" shows element 12 without drawing element 1 first.
    observed_->setKeyboardTracking(false);
    bar->addWidget(observed_);
    bar->addSpacing(24);
    bar->addWidget(pinned_label_);
    bar->addWidget(unpin_button_);
    bar->addStretch(1);
    auto* smoothing_caption = new QLabel(tr("Smoothing"));
    smoothing_->setRange(0, 99);
    smoothing_->setMaximumWidth(160);
    smoothing_->setToolTip(tr("Exponential moving average of the curves over time, as TensorBoard smooths; "
                              "the raw values stay faint behind. 0 is off."));
    smoothing_caption->setToolTip(smoothing_->toolTip());
    smoothing_label_->setMinimumWidth(smoothing_label_->fontMetrics().horizontalAdvance(QStringLiteral("0.00")) + 4);
    smoothing_label_->setText(QStringLiteral("0.00"));
    bar->addWidget(smoothing_caption);
    bar->addWidget(smoothing_);
    bar->addWidget(smoothing_label_);
    unpin_button_->setVisible(false);
    pinned_label_->setStyleSheet(QStringLiteral("color: #555;"));

    auto* top = new QSplitter(Qt::Horizontal);
    top->addWidget(outputs_);
    top->addWidget(states_);
    auto* bottom = new QSplitter(Qt::Horizontal);
    bottom->addWidget(attention_);
    bottom->addWidget(performance_);
    for (QSplitter* row : {top, bottom}) {
        row->setStretchFactor(0, 1);
        row->setStretchFactor(1, 1);
    }
    auto* rows = new QSplitter(Qt::Vertical);
    rows->addWidget(top);
    rows->addWidget(bottom);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(rows, 1);

    frame_timer_.setSingleShot(true);
    frame_timer_.setInterval(kFrameMs);
    connect(&frame_timer_, &QTimer::timeout, this, &PlotPanel::onFrame);
    for (PlotView* view : plots()) {
        view->setStores(current_, nullptr);
        connect(view, &PlotView::needsReplot, this, [this, view] {
            dirty_.insert(view);
            if (!frame_timer_.isActive()) frame_timer_.start();
        });
    }
    for (PlotView* view : plots()) connect(view, &PlotView::message, this, &PlotPanel::message);
    connect(smoothing_, &QSlider::valueChanged, this, [this](int value) {
        smoothing_label_->setText(QString::number(value / 100.0, 'f', 2));
        for (TimePlot* view : {static_cast<TimePlot*>(outputs_), static_cast<TimePlot*>(states_),
                               static_cast<TimePlot*>(performance_)})
            view->setSmoothing(value / 100.0);
    });
    connect(observed_, &QSpinBox::valueChanged, this, &PlotPanel::observedChanged);
    connect(unpin_button_, &QPushButton::clicked, this, &PlotPanel::unpin);
    rebuildAll();
}

QList<PlotView*> PlotPanel::plots() const { return {outputs_, states_, attention_, performance_}; }

void PlotPanel::pin(const TraceStore& run, const QString& caption) {
    if (!run.has_run()) return;
    pinned_ = run.shown_only();
    pinned_label_->setText(!caption.isEmpty() ? caption
                                              : tr("Pinned for comparison: %1, %2 steps, batch element %3 (dashed)")
                                                    .arg(run.info().label)
                                                    .arg(run.last_step() - run.base_step())
                                                    .arg(run.info().observed));
    unpin_button_->setVisible(true);
    for (PlotView* view : plots()) view->setStores(current_, &pinned_);
    rebuildAll();
    emit pinnedChanged(true);
}

void PlotPanel::unpin() {
    pinned_ = TraceStore();
    pinned_label_->clear();
    unpin_button_->setVisible(false);
    for (PlotView* view : plots()) view->setStores(current_, nullptr);
    rebuildAll();
    emit pinnedChanged(false);
}

void PlotPanel::rebuildAll() {
    {
        const QSignalBlocker blocker(observed_);
        observed_->setRange(0, std::max(0, current_->info().batch - 1));
        observed_->setValue(current_->info().observed);
    }
    for (PlotView* view : plots()) view->rebuild();
    non_finite_reported_ = false;
    checkFinite(0);
}

void PlotPanel::appendFrom(int first) {
    for (PlotView* view : plots()) view->appendFrom(first);
    checkFinite(first);
}

void PlotPanel::setSmoothing(double weight) { smoothing_->setValue(int(std::lround(weight * 100))); }
double PlotPanel::smoothing() const { return smoothing_->value() / 100.0; }

void PlotPanel::checkFinite(int first) {
    if (non_finite_reported_) return;
    const auto& records = current_->records();
    for (size_t i = size_t(std::max(0, first)); i < records.size(); ++i) {
        const QString place = non_finite_place(records[i]);
        if (place.isEmpty()) continue;
        non_finite_reported_ = true;
        emit message(tr("NaN or infinity first at step %1 in %2").arg(records[i].step).arg(place));
        return;
    }
}

void PlotPanel::setViewStep(qint64 step) {
    for (PlotView* view : plots()) view->setViewStep(step);
}

void PlotPanel::onFrame() {
    const QSet<PlotView*> views = std::exchange(dirty_, {});
    for (PlotView* view : views) view->refresh();
    ++frames_;
}

void PlotPanel::refreshNow() {
    frame_timer_.stop();
    for (PlotView* view : plots()) dirty_.insert(view);
    onFrame();
}

}  // namespace stepscope::ui
