// A plot with its own selectors above it, fed from the viewed run's records and the other runs shown beside it.
#pragma once

#include <QColor>
#include <QWidget>

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "session/trace_store.h"
#include "session/view_recompute.h"

class QCPAbstractPlottable;
class QCPRange;
class QCustomPlot;
class QHBoxLayout;
class QMenu;

namespace stepscope::ui {

// A run drawn beside the viewed one (dashed, in its colour), named in legends, hover and the cursor.
struct RunOverlay {
    const TraceStore* store = nullptr;
    QString name;
    QColor color;
    bool parent = false;  // the viewed run's parent: what the divergence compares a branch with by default
    int id = -1;          // its id in the run tree: views on demand compute a compared map of it by this
};

class PlotView : public QWidget {
    Q_OBJECT

public:
    PlotView(const QString& title, const QString& file_stem, QWidget* parent = nullptr);

    QCustomPlot* plot() const { return plot_; }
    const QString& title() const { return title_; }
    // The viewed run's short name ("run 3", before the name's colon), or "the viewed run" when none was given.
    QString viewedShortName() const;
    // The file name an "export all" gives this plot, without suffix.
    const QString& fileStem() const { return file_stem_; }
    // The title as drawn: the subtitle joined on, elided to the plot's width.
    QString shownTitle() const;
    QString fullTitle() const;

    // The viewed run and the runs shown beside it; the first of those is the one single comparisons use.
    void setStores(const TraceStore* current, std::vector<RunOverlay> overlays = {}, const QString& viewed_name = {});
    // Adds what is selected to the title drawn in the plot (and so in its exported image).
    void setSubtitle(const QString& subtitle);
    // Everything again from the stores: a new run, a new selection, a branch or a pin.
    virtual void rebuild() = 0;
    // Records of the current run from index `first` on are new.
    virtual void appendFrom(int first) = 0;
    virtual void setViewStep(int64_t step) = 0;
    // Brings the axes to the data (unless the user zoomed or panned) and draws. Called at screen rate.
    virtual void refresh() = 0;
    // Why an export of every plot leaves this one out ("no branch to compare"); empty when it has something to show.
    virtual QString notExported() const { return {}; }
    // What the plot shows as CSV with a header row (the context menu's "Copy data").
    virtual QString csv() const = 0;
    // Hides or shows a series, as a click on its legend entry does.
    virtual void toggleSeries(QCPAbstractPlottable* plottable);
    // What the view shows but the current run's records lack (an unobserved layer, element or step), to be
    // computed from the run's history; empty when nothing is missing or the view has nothing to look inside.
    virtual ViewRequest missingObservations() const { return {}; }
    // Records of the current run gained what a view lacked (views computed on demand): drawn again.
    virtual void observationsAdded() { rebuild(); }
    // A line a view shows where its values are still being computed, or why they are not (PlotPanel sets it).
    void setComputeNote(const QString& note);
    const QString& computeNote() const { return compute_note_; }
    // Marks the first step where a branch's output left its original's; none clears the mark.
    virtual void markDivergence(std::optional<int64_t> /*step*/) {}
    // The context menu: Copy image, Copy data as CSV, Save as…, Reset view.
    QMenu* contextMenu();
    // Follows the data again, as a double-click does (the menu's Reset view).
    void resetView();
    // Writes the plot to `path` at `size` (an image format or .csv), as the menu's Save as does.
    void saveAs(const QString& path, QSize size);
    // True until the user zooms or drags, until a double-click or Reset view.
    bool isFollowing() const { return following_; }
    // Shows `range` on the x axis as the user's view, for plots whose time axes are linked.
    virtual void showKeyRange(const QCPRange& range);
    // What the wheel zooms: both axes unless a plot says otherwise (time plots zoom time only; Ctrl
    // zooms both).
    virtual Qt::Orientations wheelZoom() const { return Qt::Horizontal | Qt::Vertical; }

signals:
    // Something changed: the panel redraws at its next frame.
    void needsReplot();
    // A one-line result of a context-menu action, for the status bar.
    void message(const QString& text);
    // The user zoomed or dragged the x axis to `range`, or reset the view (following again).
    void keyRangeChosen(const QCPRange& range);
    void viewReset();

protected:
    // What the view draws changed: refresh() redraws it at the panel's next frame (takeDirty() says so once).
    void markDirty();
    bool takeDirty() { return std::exchange(dirty_, false); }
    QHBoxLayout* controls() const { return controls_; }
    // Right of the selectors, for controls every plot of a kind shares.
    QHBoxLayout* trailingControls() const { return trailing_; }
    // Puts `widget` on a row of its own between the selectors and the plot (a message that wraps).
    void addRowUnderControls(QWidget* widget);
    // False once the user zooms or drags, until a double-click: refresh() leaves the axes alone.
    bool following() const { return following_; }
    void follow() { following_ = true; }
    void unfollow() { following_ = false; }
    // The user zoomed or dragged the value axis too (Ctrl held): a plot that fits values to the
    // shown steps leaves them alone.
    bool valueAxisChosen() const { return value_axis_chosen_; }
    // Lays out the title and the legend for the plot's current width.
    void fitDecorations();
    // The mouse moved over the plot with no button held (hover read-outs).
    virtual void hover(const QPoint&) {}
    const TraceStore* current_ = nullptr;
    std::vector<RunOverlay> overlays_;
    const TraceStore* pinned_ = nullptr;  // the first overlay's, for views that compare with one run
    QString viewed_name_;                 // the viewed run's name in the Runs pane (empty: none given)

private:
    bool eventFilter(QObject* watched, QEvent* event) override;
    void showContextMenu(const QPoint& position);

    bool following_ = true;
    bool dirty_ = true;
    bool user_moving_ = false;  // a wheel or drag of the user's is moving the axes
    bool value_axis_chosen_ = false;
    bool drag_moves_values_ = false;
    QString title_;
    QString file_stem_;
    QString compute_note_;
    QHBoxLayout* controls_;
    QHBoxLayout* trailing_;
    QCustomPlot* plot_;
};

}  // namespace stepscope::ui
