// Plot layout in resizable splitters, pinning for comparison, and redraws coalesced on a frame timer.
#include "plot_panel.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include "attention_plot.h"
#include "output_plot.h"
#include "performance_plot.h"
#include "state_plot.h"

namespace stepscope::ui {

namespace {
// About 40 frames a second: fluid, and far below the step rate of small models.
constexpr int kFrameMs = 25;
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
      unpin_button_(new QPushButton(tr("Unpin"))) {
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
}

void PlotPanel::unpin() {
    pinned_ = TraceStore();
    pinned_label_->clear();
    unpin_button_->setVisible(false);
    for (PlotView* view : plots()) view->setStores(current_, nullptr);
    rebuildAll();
}

void PlotPanel::rebuildAll() {
    {
        const QSignalBlocker blocker(observed_);
        observed_->setRange(0, std::max(0, current_->info().batch - 1));
        observed_->setValue(current_->info().observed);
    }
    for (PlotView* view : plots()) view->rebuild();
}

void PlotPanel::appendFrom(int first) {
    for (PlotView* view : plots()) view->appendFrom(first);
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
