// The heatmap of two runs: another run's weights for the viewed map's layer, head, element and query steps,
// drawn on the viewed map's colour scale, and the two maps' difference on a diverging one.
#pragma once

#include <QString>

#include <cstdint>
#include <vector>

#include "session/trace_store.h"

class QCPAxis;
class QCPAxisRect;
class QCPColorMap;
class QCPColorScale;
class QCPMarginGroup;
class QCustomPlot;

namespace stepscope::ui {

// The rows `store` recorded for `layer`, `role` at `step`, or null.
const AttentionRows* attention_rows(const TraceStore& store, int64_t step, int layer, AttentionRole role);

// The weights of head `head` in a window of query rows (one per step, null where none) over the keys
// key_lo .. key_lo + columns - 1: rows x columns, row first; NaN where a row holds no weight of that key.
std::vector<double> attention_cells(const std::vector<const AttentionRows*>& rows, int head, int key_lo, int columns);

// The other run's rows for the query steps of the viewed map (`viewed`, from step `first`), key for key.
struct OtherRows {
    std::vector<const AttentionRows*> rows;
    // Empty when `rows` holds a row for every viewed row over the same keys; else why not, in one line.
    QString missing;
    // The other run has those steps but did not observe them: they can be computed from its history.
    bool unobserved = false;
};

// Looks up `other`'s rows of `layer`, `role`, `head` at the viewed rows' steps. They compare when `other` recorded
// every step the viewed map has a row at, for the same batch element, with the same keys over the map's columns
// key_lo .. key_hi - 1 (and, for cross attention, the same memory elements).
OtherRows other_rows(const TraceStore& viewed_run, const std::vector<const AttentionRows*>& viewed, int64_t first,
                     int key_lo, int key_hi, const TraceStore& other, const QString& other_name, int layer,
                     AttentionRole role, int head);

// viewed − other, cell for cell; NaN where either has no weight.
std::vector<double> cell_difference(const std::vector<double>& viewed, const std::vector<double>& other);

// The two maps beside the viewed one in its plot: the other run's, on the viewed map's colour scale, and the
// difference, on a diverging scale of its own centred at 0. Hidden until shown.
class ComparedMaps {
public:
    // Adds its axes and maps to `plot` (not yet to a layout); `shared` is the viewed map's colour scale.
    ComparedMaps(QCustomPlot* plot, QCPColorScale* shared, QCPMarginGroup* margins);

    // Shows or hides the two maps and the difference's scale (the plot's layout holds them while shown).
    void setShown(bool shown);
    // Draws the other run's cells (displayed values: NaN where the viewed map leaves a cell blank) and the difference
    // of the raw values, over the viewed map's cell coordinates; labels each map above it.
    void draw(const std::vector<double>& other_shown, const std::vector<double>& difference, int rows, int columns,
              double first_key, int64_t first_row, int64_t last_row, const QString& viewed_name,
              const QString& other_name);
    // Makes the two maps' axes show what the viewed map's axes show.
    void matchAxes(const QCPAxis* x, const QCPAxis* y);
    // Cuts the maps' names and the difference bar's label to the room the layout just gave them.
    void fitLabels();

    QCPColorMap* otherMap() const { return other_; }
    QCPColorMap* differenceMap() const { return difference_; }
    QCPColorScale* differenceScale() const { return difference_scale_; }
    QCPAxisRect* otherAxes() const { return other_axes_; }
    QCPAxisRect* differenceAxes() const { return difference_axes_; }
    bool shown() const { return shown_; }

private:
    QCPAxisRect* other_axes_;
    QCPAxisRect* difference_axes_;
    QCPColorMap* other_;
    QCPColorMap* difference_;
    QCPColorScale* difference_scale_;
    bool shown_ = false;
};

}  // namespace stepscope::ui
