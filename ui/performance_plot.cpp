// Latency as timed around Model::step, and State::bytes, both per step.
#include "performance_plot.h"

#include <QHBoxLayout>
#include <QLabel>

namespace stepscope::ui {

PerformancePlot::PerformancePlot(QWidget* parent)
    : TimePlot(tr("Step latency and state memory"), QStringLiteral("performance"), parent) {
    auto* note = new QLabel(tr("latency: wall time of one step with the plots' observer, timed as stepscope bench "
                               "times it; memory: the state's bytes"));
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
