// Plot 2: attention-state norms over steps for one layer, one curve per head (self or cross attention).
#pragma once

#include "plots/time_plot.h"

class QComboBox;

namespace stepscope::ui {

class LayerSelector;

class StatePlot : public TimePlot {
    Q_OBJECT

public:
    // Which number of the state: ||S|| or ||K||, ||Z|| or ||V||, the cache length, or what the delta-rule family
    // reports of each step's update: the write strength beta, the forget gate alpha, the prediction error.
    enum class Quantity {
        First = 0,
        Second = 1,
        CacheLength = 2,
        WriteStrength = 3,
        ForgetGate = 4,
        PredictionError = 5
    };

    explicit StatePlot(QWidget* parent = nullptr);

    void select(AttentionRole role, int layer, Quantity quantity);
    void rebuild() override;

protected:
    std::vector<Series> series(const TraceStore& store) const override;
    QString yLabel() const override;
    QString emptyNote() const override;

private:
    void updateSelectors();
    AttentionRole role() const;

    LayerSelector* selector_;
    QComboBox* quantity_;
    bool mixed_kinds_ = false;  // the pinned run's attention is linear and the current one full, or the reverse
};

}  // namespace stepscope::ui
