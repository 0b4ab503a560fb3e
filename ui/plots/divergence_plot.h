// Plot: how far a branch has moved from its original, per layer, ||y - y_original|| over steps, and for
// token models the correct answer's probability in both.
#pragma once

#include "plots/time_plot.h"

namespace stepscope::ui {

class DivergencePlot : public TimePlot {
    Q_OBJECT

public:
    explicit DivergencePlot(QWidget* parent = nullptr);

protected:
    std::vector<Series> series(const TraceStore& store) const override;
    QString yLabel() const override;
    QString y2Label() const override;
    QString emptyNote() const override;

public:
    QString notExported() const override;
};

}  // namespace stepscope::ui
