// Plot 4: step latency (ms) and state memory (MiB) over steps.
#pragma once

#include "time_plot.h"

namespace stepscope::ui {

class PerformancePlot : public TimePlot {
    Q_OBJECT

public:
    explicit PerformancePlot(QWidget* parent = nullptr);

protected:
    std::vector<Series> series(const TraceStore& store) const override;
    QString yLabel() const override;
    QString y2Label() const override;
};

}  // namespace stepscope::ui
