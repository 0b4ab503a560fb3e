// Plot 4: step latency (ms) and state memory (in the unit that suits the model) over steps.
#pragma once

#include "plots/time_plot.h"

namespace stepscope::ui {

class PerformancePlot : public TimePlot {
    Q_OBJECT

public:
    explicit PerformancePlot(QWidget* parent = nullptr);

    void rebuild() override;
    void appendFrom(int first) override;
    // "B", "KiB", "MiB" or "GiB": the unit of the memory axis.
    QString memoryUnit() const;

protected:
    std::vector<Series> series(const TraceStore& store) const override;
    QString yLabel() const override;
    QString y2Label() const override;

private:
    // The power of 1024 that puts the largest state of the current and pinned runs in 1 .. 1023.
    int unitFor(int64_t bytes) const;
    int64_t largestState(int first) const;

    int unit_ = 0;
};

}  // namespace stepscope::ui
