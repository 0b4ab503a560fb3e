// Plot 3: full attention's softmax weights of one layer and head as a heatmap over (query step, key step).
#pragma once

#include "plots/plot_view.h"

class QCPColorMap;
class QCPColorScale;
class QCPItemStraightLine;
class QCPItemText;

namespace stepscope::ui {

class LayerSelector;

class AttentionPlot : public PlotView {
    Q_OBJECT

public:
    explicit AttentionPlot(QWidget* parent = nullptr);

    void select(AttentionRole role, int layer, int head);
    void rebuild() override;
    void appendFrom(int first) override;
    void setViewStep(int64_t step) override;
    void refresh() override;
    QString csv() const override;
    // Axis label of the keys: "key step" or "memory element".
    QString keyLabel() const;
    void markDivergence(std::optional<int64_t> step) override;
    // The layer whose implicit weights the view needs observed: the one shown, when its attention is linear.
    std::optional<int> observedLayer() const;

    // Cells drawn at the last refresh (query rows x key columns); for tests.
    int rowsShown() const { return rows_shown_; }
    // False while the map holds only a note (linear attention, no steps yet).
    bool hasWeights() const { return rows_shown_ > 0; }

private:
    AttentionRole role() const;
    // Fills the map with the rows of the kAttentionWindow query steps up to the viewed step.
    void fill();
    // A log scale of positive weights, or (the delta rules) a linear one centred at 0 with a diverging gradient.
    void useSignedScale(bool is_signed);

    LayerSelector* selector_;
    QCPColorMap* map_;
    QCPColorScale* scale_;
    QCPItemText* note_;
    QCPItemText* caption_;  // what linear attention's implicit weights are, over the map
    QString caption_text_;  // the caption before it is wrapped to the axes' width
    QCPItemStraightLine* divergence_;
    int64_t view_step_ = 0;
    bool dirty_ = true;
    int rows_shown_ = 0;
    bool signed_scale_ = false;
};

}  // namespace stepscope::ui
