// Latency as timed around a step, and the state's bytes, both per step.
#include "plots/performance_plot.h"

#include <QHBoxLayout>
#include <QLabel>

#include <algorithm>
#include <cmath>

namespace stepscope::ui {

PerformancePlot::PerformancePlot(QWidget* parent)
    : TimePlot(tr("Step latency and state memory"), QStringLiteral("performance"), parent) {
    auto* note = new QLabel(tr("latency: one step, observed · memory: the state's bytes"));
    note->setToolTip(
        tr("Latency is the wall time of one step with the plots' observer, timed as stepscope bench "
           "times it; memory is the bytes the attention state holds."));
    note->setStyleSheet(QStringLiteral("color: gray;"));
    // Wraps in a narrow tab rather than widening the window past a 1280-pixel screen.
    note->setWordWrap(true);
    controls()->addWidget(note, 1);
}

QString PerformancePlot::memoryUnit() const {
    static const QString kUnits[] = {QStringLiteral("B"), QStringLiteral("KiB"), QStringLiteral("MiB"),
                                     QStringLiteral("GiB")};
    return kUnits[unit_];
}

int PerformancePlot::unitFor(int64_t bytes) const {
    int unit = 0;
    while (unit < 3 && bytes >= (int64_t(1) << (10 * (unit + 1)))) ++unit;
    return unit;
}

int64_t PerformancePlot::largestState(int first) const {
    int64_t largest = 0;
    if (current_)
        for (size_t i = size_t(first); i < current_->records().size(); ++i)
            largest = std::max(largest, current_->records()[i].state_bytes);
    if (pinned_ && first == 0)
        for (const StepRecord& r : pinned_->records()) largest = std::max(largest, r.state_bytes);
    return largest;
}

void PerformancePlot::rebuild() {
    unit_ = unitFor(largestState(0));
    TimePlot::rebuild();
}

void PerformancePlot::appendFrom(int first) {
    // A full-attention cache grows out of its unit: the axis moves to the next one.
    if (unitFor(largestState(first)) > unit_) rebuild();
    else TimePlot::appendFrom(first);
}

QString PerformancePlot::yLabel() const { return tr("step latency (ms)"); }
QString PerformancePlot::y2Label() const { return tr("state memory (%1)").arg(memoryUnit()); }

std::vector<TimePlot::Series> PerformancePlot::series(const TraceStore&) const {
    const double divisor = std::ldexp(1.0, 10 * unit_);
    return {{tr("latency (ms)"), 0, false, [](const StepRecord& r) { return std::optional<double>(r.latency_ms); }},
            {tr("state memory (%1)").arg(memoryUnit()), 1, true,
             [divisor](const StepRecord& r) { return std::optional<double>(double(r.state_bytes) / divisor); },
             /*steps=*/true}};
}

}  // namespace stepscope::ui
