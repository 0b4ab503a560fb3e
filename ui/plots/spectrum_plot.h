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
    QString notExported() const override;
    // The viewed step's singular values of the layer shown, when they were not recorded.
    ViewRequest missingObservations() const override;
    // Heads drawn at the last refresh, for tests.
    int headsShown() const { return heads_shown_; }
    // What hovering at `position` (plot pixels) tells: head, index and σ; empty when no point is near.
    QString hoverText(const QPoint& position) const;

protected:
    void hover(const QPoint& position) override;

private:
    // Adds one graph per head of `store`'s record at the viewed step; the number of heads drawn.
    int draw(const TraceStore& store, bool pinned);
    int rank_shown_ = 0;

    LayerSelector* selector_;
    QCPItemText* note_;
    int64_t view_step_ = 0;
    int heads_shown_ = 0;
};

}  // namespace stepscope::ui
