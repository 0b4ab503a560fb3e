// Latency as timed around a step, and the state's bytes, both per step.
#include "performance_plot.h"

#include <QHBoxLayout>
#include <QLabel>

namespace stepscope::ui {

PerformancePlot::PerformancePlot(QWidget* parent)
    : TimePlot(tr("Step latency and state memory"), QStringLiteral("performance"), parent) {
    auto* note = new QLabel(tr("latency: one step, observed · memory: the state's bytes"));
    note->setToolTip(tr("Latency is the wall time of one step with the plots' observer, timed as stepscope bench "
                        "times it; memory is the bytes the attention state holds."));
    note->setStyleSheet(QStringLiteral("color: gray;"));
    controls()->addWidget(note);
    controls()->addStretch(1);
}

QString PerformancePlot::yLabel() const { return tr("step latency (ms)"); }
QString PerformancePlot::y2Label() const { return tr("state memory (MiB)"); }

std::vector<TimePlot::Series> PerformancePlot::series(const TraceStore&) const {
    return {{tr("latency (ms)"), 0, false, [](const StepRecord& r) { return std::optional<double>(r.latency_ms); }},
            {tr("state memory (MiB)"), 1, true,
             [](const StepRecord& r) { return std::optional<double>(double(r.state_bytes) / (1024.0 * 1024.0)); }}};
}

}  // namespace stepscope::ui
