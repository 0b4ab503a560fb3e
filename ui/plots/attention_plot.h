// Plot 3: full attention's softmax weights of one layer and head as a heatmap over (query step, key step).
#pragma once

#include "plots/plot_view.h"

#include <vector>

class QCheckBox;
class QCPColorMap;
class QCPColorScale;
class QCPItemStraightLine;
class QCPItemText;
class QCPTextElement;

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
    QString notExported() const override;
    // Axis label of the keys: "key step" or "memory element".
    QString keyLabel() const;
    void markDivergence(std::optional<int64_t> step) override;
    // The layer whose implicit weights the view needs observed: the one shown, when its attention is linear.
    std::optional<int> observedLayer() const;
    // The query steps of the window shown whose rows were not recorded (or not with the window's keys).
    ViewRequest missingObservations() const override;
    void observationsAdded() override { markDirty(); }

    int64_t viewStep() const { return view_step_; }
    // Cells drawn at the last refresh (query rows x key columns); for tests.
    int rowsShown() const { return rows_shown_; }
    // False while the map holds only a note (linear attention, no steps yet).
    bool hasWeights() const { return rows_shown_ > 0; }
    // A logarithmic colour scale (the default) or a linear one.
    void setLogColours(bool log);
    bool logColours() const;
    QCPColorScale* colourScale() const { return scale_; }
    QCPColorMap* colourMap() const { return map_; }
    // The text under the map (what implicit weights are) and the note over an empty one, as drawn.
    QString captionText() const { return caption_text_; }
    QString noteText() const { return note_text_; }
    QString shownNote() const;

private:
    AttentionRole role() const;
    // The query steps the map shows: the kAttentionWindow steps up to the viewed one, within the run.
    std::pair<int64_t, int64_t> window() const;
    // The rows recorded for `layer`, `role` at `step`, or null.
    const AttentionRows* rowsAt(int64_t step, int layer, AttentionRole role) const;
    // Fills the map with the rows of the kAttentionWindow query steps up to the viewed step.
    void fill();
    // A log or linear scale of the weights as the "log" box says, or (the delta rules' signed weights) a
    // linear one centred at 0 with a diverging gradient.
    void setColourScale(bool log, bool is_signed = false);
    // Wraps the caption to the plot's width and the note to the axes'.
    void wrapTexts();

    LayerSelector* selector_;
    QCPColorMap* map_;
    QCPColorScale* scale_;
    QCPItemText* note_;
    QCheckBox* log_colours_;
    QCPTextElement* caption_;  // what linear attention's implicit weights are, under the map
    QString caption_text_;     // the caption before it is wrapped to the plot's width
    QString note_text_;
    // The weights drawn: rows_shown_ x cell_columns_, query steps from first_row_, keys from first_key_.
    std::vector<double> cells_;
    int cell_columns_ = 0;
    double first_key_ = 0;
    int64_t first_row_ = 0;
    QCPItemStraightLine* divergence_;
    int64_t view_step_ = 0;
    int rows_shown_ = 0;
    bool signed_scale_ = false;
};

}  // namespace stepscope::ui
