// Plot layout in resizable splitters, pinning for comparison, and redraws coalesced on a frame timer.
#include "plot_panel.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QVBoxLayout>

#include <algorithm>

#include "attention_plot.h"
#include "capacity_plot.h"
#include "divergence_plot.h"
#include "insight_records.h"
#include "output_plot.h"
#include "performance_plot.h"
#include "spectrum_plot.h"
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
      spectrum_(new SpectrumPlot),
      capacity_(new CapacityPlot),
      divergence_(new DivergencePlot),
      tabs_(new QTabWidget),
      observed_(new QSpinBox),
      pinned_label_(new QLabel),
      unpin_button_(new QPushButton(tr("Unpin"))) {
    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(6, 2, 6, 0);
    bar->addWidget(new QLabel(tr("Batch element shown:")));
    observed_->setToolTip(tr("The sequence of the batch the plots follow; changing it records the run again"));
    // Each change re-records the run: typing "12" must not record element 1 first.
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
    tabs_->setDocumentMode(true);
    tabs_->addTab(performance_, tr("Performance"));
    tabs_->addTab(spectrum_, tr("Spectrum of S"));
    tabs_->addTab(capacity_, tr("State capacity"));
    tabs_->addTab(divergence_, tr("Divergence"));
    bottom->addWidget(tabs_);
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
    for (PlotView* view : views()) {
        view->setStores(current_, nullptr);
        connect(view, &PlotView::needsReplot, this, [this, view] {
            dirty_.insert(view);
            if (!frame_timer_.isActive()) frame_timer_.start();
        });
    }
    // Selections and the tab shown decide what the engine looks inside.
    for (PlotView* view : QList<PlotView*>{attention_, spectrum_, capacity_})
        connect(view, &PlotView::needsReplot, this, &PlotPanel::updateObservation);
    connect(tabs_, &QTabWidget::currentChanged, this, &PlotPanel::updateObservation);
    connect(observed_, &QSpinBox::valueChanged, this, &PlotPanel::observedChanged);
    connect(unpin_button_, &QPushButton::clicked, this, &PlotPanel::unpin);
    rebuildAll();
}

QList<PlotView*> PlotPanel::views() const {
    return {outputs_, states_, attention_, performance_, spectrum_, capacity_, divergence_};
}

QList<PlotView*> PlotPanel::plots() const {
    QList<PlotView*> out{outputs_, states_, attention_, performance_};
    const auto& records = current_->records();
    if (std::any_of(records.begin(), records.end(), [](const StepRecord& r) { return !r.capacity.empty(); }))
        out << spectrum_ << capacity_;
    if (std::any_of(records.begin(), records.end(), [](const StepRecord& r) { return !r.divergence.empty(); }))
        out << divergence_;
    return out;
}

void PlotPanel::showView(QWidget* page) {
    if (tabs_->indexOf(page) >= 0) tabs_->setCurrentWidget(page);
}

void PlotPanel::addPage(QWidget* page, const QString& title) { tabs_->addTab(page, title); }

ObservationOptions PlotPanel::observation() const {
    ObservationOptions what;
    auto observe = [&what](int layer) {
        if (std::find(what.layers.begin(), what.layers.end(), layer) == what.layers.end()) what.layers.push_back(layer);
    };
    if (const auto layer = attention_->observedLayer()) {
        observe(*layer);
        what.attention = true;
    }
    if (tabs_->currentWidget() == spectrum_ && current_->has_run() && current_->linear(spectrum_->role())) {
        observe(spectrum_->layer());
        what.spectrum = true;
    }
    if (tabs_->currentWidget() == capacity_ && capacity_->needsObservation()) {
        observe(capacity_->layer());
        what.spectrum = what.spectrum || capacity_->needsSpectrum();
        // Denominators and row entropy come with any observation; attention keeps the histories small.
        if (!what.spectrum) what.attention = true;
    }
    return what;
}

void PlotPanel::updateObservation() {
    const ObservationOptions what = observation();
    if (what.layers == observation_.layers && what.attention == observation_.attention &&
        what.spectrum == observation_.spectrum)
        return;
    observation_ = what;
    emit observationChanged(what);
}

void PlotPanel::updateDivergenceMark() {
    const std::optional<int64_t> at = first_divergence(*current_);
    if (at == diverged_at_) return;
    diverged_at_ = at;
    for (PlotView* view : views()) view->markDivergence(at);
}

void PlotPanel::pin(const TraceStore& run) {
    if (!run.has_run()) return;
    pinned_ = run;
    pinned_label_->setText(tr("Pinned for comparison: %1, %2 steps (dashed)")
                               .arg(run.info().label)
                               .arg(run.last_step() - run.base_step()));
    unpin_button_->setVisible(true);
    for (PlotView* view : views()) view->setStores(current_, &pinned_);
    rebuildAll();
}

void PlotPanel::unpin() {
    pinned_ = TraceStore();
    pinned_label_->clear();
    unpin_button_->setVisible(false);
    for (PlotView* view : views()) view->setStores(current_, nullptr);
    rebuildAll();
}

void PlotPanel::rebuildAll() {
    {
        const QSignalBlocker blocker(observed_);
        observed_->setRange(0, std::max(0, current_->info().batch - 1));
        observed_->setValue(current_->info().observed);
    }
    for (PlotView* view : views()) view->rebuild();
    diverged_at_.reset();
    for (PlotView* view : views()) view->markDivergence(std::nullopt);
    updateDivergenceMark();
    updateObservation();
}

void PlotPanel::appendFrom(int first) {
    for (PlotView* view : views()) view->appendFrom(first);
    if (!diverged_at_) updateDivergenceMark();
}

void PlotPanel::setViewStep(qint64 step) {
    for (PlotView* view : views()) view->setViewStep(step);
}

void PlotPanel::onFrame() {
    const QSet<PlotView*> views = std::exchange(dirty_, {});
    for (PlotView* view : views) view->refresh();
    ++frames_;
}

void PlotPanel::refreshNow() {
    frame_timer_.stop();
    for (PlotView* view : views()) dirty_.insert(view);
    onFrame();
}

}  // namespace stepscope::ui
