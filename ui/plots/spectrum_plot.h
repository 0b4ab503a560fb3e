// Plot: the singular values of each head's linear-attention state S (D x M) at the viewed step.
#pragma once

#include "plots/plot_view.h"

class QCPItemText;

namespace stepscope::ui {

class LayerSelector;

class SpectrumPlot : public PlotView {
    Q_OBJECT

public:
    explicit SpectrumPlot(QWidget* parent = nullptr);

    void select(AttentionRole role, int layer);
    AttentionRole role() const;
    int layer() const;
    void rebuild() override;
    void appendFrom(int first) override;
    void setViewStep(int64_t step) override;
    void refresh() override;
    QString csv() const override;
    // Heads drawn at the last refresh, for tests.
    int headsShown() const { return heads_shown_; }

private:
    // Adds one graph per head of `store`'s record at the viewed step; the number of heads drawn.
    int draw(const TraceStore& store, bool pinned);

    LayerSelector* selector_;
    QCPItemText* note_;
    int64_t view_step_ = 0;
    int heads_shown_ = 0;
};

}  // namespace stepscope::ui
