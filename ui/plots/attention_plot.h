// Plot 3: full attention's softmax weights of one layer and head as a heatmap over (query step, key step).
#pragma once

#include <QSharedPointer>

#include "plots/plot_view.h"

#include <memory>
#include <vector>

class QCheckBox;
class QComboBox;
class QPushButton;
class QCPLayoutGrid;
class QCPMarginGroup;
class QCPAxisTicker;
class QCPColorMap;
class QCPColorScale;
class QCPItemStraightLine;
class QCPItemText;
class QCPTextElement;

namespace stepscope::ui {

class ComparedMaps;
class LayerSelector;

class AttentionPlot : public PlotView {
    Q_OBJECT

public:
    explicit AttentionPlot(QWidget* parent = nullptr);
    ~AttentionPlot() override;

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
    // The query steps of the window shown whose rows were not recorded (or not with the window's keys); then
    // those the run compared with lacks (ViewRequest::run names it).
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

    // Draws beside the viewed map the map of the run drawn beside it at `index` (0 ..) on the same colour scale,
    // and their difference; -1 draws the viewed map alone. The choice is the "Compare with" box's: by default
    // the viewed run's parent, else the first run shown.
    void compareWith(int index);
    int comparedWith() const;
    // The other run's map and the difference, while drawn.
    const ComparedMaps& comparedMaps() const { return *compared_; }
    // The values drawn: the other run's (as shown, on the viewed map's scale) and viewed − other, rows first,
    // rowsShown() x the viewed map's columns; empty while no comparison is drawn.
    const std::vector<double>& otherCells() const { return other_cells_; }
    const std::vector<double>& differenceCells() const { return difference_cells_; }
    // Computes the compared run's rows the map lacks, as the "Compute its map" button (shown while that run did not
    // observe them) does.
    void computeCompared();
    bool computeComparedOffered() const;
    // The line saying why no comparison is drawn ("No comparison: run 1 has no record of step 40"), or empty.
    QString compareLine() const { return compare_line_text_; }

private:
    AttentionRole role() const;
    // The query steps the map shows: the kAttentionWindow steps up to the viewed one, within the run.
    std::pair<int64_t, int64_t> window() const;
    // What `store` lacks of the rows of the window shown.
    ViewRequest missingIn(const TraceStore& store) const;
    // The rows recorded for `layer`, `role` at `step`, or null.
    const AttentionRows* rowsAt(int64_t step, int layer, AttentionRole role) const;
    // Fills the map with the rows of the kAttentionWindow query steps up to the viewed step.
    void fill();
    // A log or linear scale of the weights as the "log" box says, or (the delta rules' signed weights) a
    // linear one centred at 0 with a diverging gradient.
    void setColourScale(bool log, bool is_signed = false);
    // Wraps the caption to the plot's width and the note to the axes'.
    void wrapTexts();
    // Cuts the colour bars' labels and the maps' names to the room the layout gave them.
    void fitLabels();
    // Fills the "Compare with" box from the runs shown, keeping the user's choice while that run is shown.
    void fillCompareChoices();
    // The viewed map, then (comparing) the other map, the shared scale while weights are drawn, then the
    // difference and its scale: the row of the plot's layout they sit in.
    void arrangeMaps(bool weights, bool comparing);
    // Draws the chosen run's map of `rows`' steps and the difference, or says why it has none; the raw viewed cells.
    // Returns whether the comparison is drawn.
    bool drawComparison(const std::vector<const AttentionRows*>& rows, const std::vector<double>& raw, int key_lo,
                        int columns, bool log);

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
    QComboBox* compare_;
    QWidget* compare_row_;
    QPushButton* compute_other_;
    bool compute_other_asked_ = false;  // the compared run's missing rows are wanted (missingObservations)
    QString chosen_;                    // the user's choice in the box, kept across rebuilds while that run is shown
    bool filling_ = false;
    QCPLayoutGrid* row_;  // the maps and their scales, side by side
    QCPMarginGroup* margins_;
    QCPTextElement* compare_line_;  // why the chosen run has no map to compare, over the maps
    QString compare_line_text_;
    QString scale_label_;
    QString viewed_label_;  // over the viewed map while another's stands beside it  // the colour bar's label before it
                            // is cut to the bar's height
    // The step axes' tickers (x, y): the tokens fed at each step, or the numbers alone beside another map.
    QSharedPointer<QCPAxisTicker> token_tickers_[2], plain_tickers_[2];
    std::unique_ptr<ComparedMaps> compared_;
    std::vector<double> other_cells_, difference_cells_;
};

}  // namespace stepscope::ui
