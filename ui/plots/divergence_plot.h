// Plot: how far a branch has moved from its original, per layer, ||y - y_original|| over steps, and for
// token models the correct answer's probability in both.
#pragma once

#include "plots/time_plot.h"

class QComboBox;
class QLabel;

namespace stepscope::ui {

class DivergencePlot : public TimePlot {
    Q_OBJECT

public:
    explicit DivergencePlot(QWidget* parent = nullptr);
    void rebuild() override;
    // Compares the viewed run with the run drawn beside it at `index` (0 ..), or with its original
    // (the same run without interventions, -1); the choice is the "Compare with" box's.
    void compareWith(int index);
    int comparedWith() const;
    QString notExported() const override;

protected:
    std::vector<Series> series(const TraceStore& store) const override;
    QString yLabel() const override;
    QString y2Label() const override;
    QString emptyNote() const override;

private:
    // Names the two runs compared in the title and the line above the plot.
    void nameComparedRuns();

    QComboBox* compare_;
    QLabel* note_;
    QString chosen_;  // what the user chose in the box, kept across rebuilds while that run is drawn
    bool filling_ = false;
};

}  // namespace stepscope::ui
