// A plot of values over steps: subclasses name the series, this class feeds, smooths and scales the graphs.
#pragma once

#include <QSet>
#include <QString>
#include <qcustomplot.h>

#include <functional>
#include <optional>
#include <vector>

#include "plots/decimation.h"
#include "plots/plot_view.h"

class QComboBox;

namespace stepscope::ui {

class TimePlot : public PlotView {
    Q_OBJECT

public:
    struct Series {
        QString name;
        int color = 0;
        bool right_axis = false;
        std::function<std::optional<double>(const StepRecord&)> value;
        // A step function (a cache's bytes, a count): smoothing leaves it as it is.
        bool steps = false;
    };

    TimePlot(const QString& title, const QString& file_stem, QWidget* parent = nullptr);

    void rebuild() override;
    void appendFrom(int first) override;
    void setViewStep(int64_t step) override;
    void refresh() override;
    QString csv() const override;
    void toggleSeries(QCPAbstractPlottable* plottable) override;
    void markDivergence(std::optional<int64_t> step) override;
    // Graphs of the current run's raw values, holding what is drawn: every value of a short run,
    // of a long one the min/max decimation (decimation.h) over the x axis's range.
    const std::vector<QCPGraph*>& currentGraphs() const { return graphs_; }
    // TensorBoard's smoothing: an exponential moving average of weight 0 (off) to 0.99, drawn over
    // the raw values, which stay in view faintly.
    void setSmoothing(double weight);
    double smoothing() const { return smoothing_; }
    // Norms that grow at different rates (linear ||S|| against full ||K||) read better on a log axis.
    void setLogScale(bool log);
    bool logScale() const { return scale_ == Scale::Log; }
    // Signed values spanning decades (outputs) take symlog: linear near 0, logarithmic beyond.
    enum class Scale { Linear, Log, Symlog };
    void setScale(Scale scale);
    Scale scale() const { return scale_; }
    // The whole batch instead of one element: each curve is the mean over the batch's elements, in a
    // band from their least to their greatest value, or one standard deviation either side.
    enum class Band { Element, MinMax, Std };
    void setBand(Band band);
    Band band() const { return band_; }
    // The band's graphs of the current run (low, high), empty in Element mode; for tests.
    std::vector<std::pair<QCPGraph*, QCPGraph*>> bandGraphs() const;
    // The value as drawn on `axis` (its symlog coordinate while symlog is on).
    double shownValue(const QCPAxis* axis, double v) const;
    // The first step at which a series of the current run is NaN or infinite.
    std::optional<int64_t> firstNonFinite() const { return non_finite_step_; }
    // What hovering at `position` (plot pixels) tells: step, series and value; empty when no curve is near.
    QString hoverText(const QPoint& position) const;
    // The values listed beside the cursor at the viewed step; empty while the cursor is hidden.
    QString cursorText() const;
    // The wheel and a drag move time only (Ctrl: both axes), as TensorBoard and PlotJuggler do.
    Qt::Orientations wheelZoom() const override { return Qt::Horizontal; }
    // Where the cursor's values are drawn (plot pixels, an opaque box with a colour swatch per line);
    // empty while hidden.
    QRect cursorBox() const;
    // The pixmap of the cursor's values, for tests.
    QPixmap cursorPixmap() const;
    // The note over the axes while nothing is drawn; empty when hidden.
    QString shownNote() const;

protected:
    // The series of `store` under the current selection; `store` is the current or the pinned run.
    virtual std::vector<Series> series(const TraceStore& store) const = 0;
    virtual QString yLabel() const = 0;
    virtual QString y2Label() const { return {}; }
    // The note shown while there is nothing to draw.
    virtual QString emptyNote() const;
    // Selectors call this when the choice changes.
    void selectionChanged();
    void hover(const QPoint& position) override;

private:
    // Every value of one graph, which holds only what is drawn, and their extent for the axes.
    struct Values {
        SeriesData data;
        QCPRange all, positive;  // of the finite values; of those above 0 (a log axis)
        bool any = false, any_positive = false;
        void push(double v);
    };
    // One series on the plot: its raw graph and, while smoothing, the average over it.
    struct Drawn {
        Series series;
        bool pinned = false;  // a run beside the viewed one
        int overlay = -1;     // its index in overlays_
        QString legend_name;  // empty: no legend entry (another run's series after its first)
        QCPGraph* raw = nullptr;
        QCPGraph* smooth = nullptr;
        QCPGraph* band_low = nullptr;  // the batch band's edges (the high one fills down to the low)
        QCPGraph* band_high = nullptr;
        SeriesData keys;  // steps, ascending
        Values raw_values, smooth_values, band_low_values, band_high_values;
        double average = 0;  // the running EMA before bias correction
        int averaged = 0;    // finite values averaged so far
    };

    void add(const Series& s, int overlay, const QString& legend_name);
    // What hover and the cursor call a series: another run's name before it.
    QString seriesLabel(const Drawn& drawn) const;
    void fill(Drawn& drawn, const TraceStore& store, int first);
    // Appends one value (a gap when it is not finite) at `step`, smoothed when smoothing.
    void push(Drawn& drawn, int64_t step, double v);
    // The current run's series from record `first` on: the element's values, or the batch's band.
    void fillCurrent(int first);
    void fitAxes();
    // Pixel columns the data is decimated to: the axis rect's width.
    int columns() const;
    // Gives every graph what it draws of its values over the x axis's range.
    void updateGraphs();
    bool drawsEveryPoint() const;
    // The data range of the visible graphs on `axis`, positive values only on a log axis.
    bool valueRange(QCPAxis* axis, QCPRange& range) const;
    // The same over the steps in `keys` only.
    bool valueRangeIn(QCPAxis* axis, const QCPRange& keys, QCPRange& range) const;
    // Fits the value axes to `range` of the values (all, or those of the steps shown).
    void fitValueAxes(bool shown_steps_only);
    void updateCursor();
    // Legend entries for the series that have values, in their order (an empty branch lists none).
    void updateLegend();
    // The name of a column of Copy data: the series, its run and its batch element.
    QString columnName(const Drawn& drawn) const;
    void updateNonFiniteMarker();
    QString hiddenKey(const Drawn& drawn) const;
    bool visible(const Drawn& drawn) const;

    std::vector<Drawn> drawn_;  // the other runs' series first, then the viewed run's
    std::vector<QCPGraph*> graphs_;
    QSet<QString> hidden_;  // series the user hid from the legend, kept across rebuilds
    QCPItemStraightLine* cursor_;
    QCPItemPixmap* cursor_label_;
    QStringList cursor_lines_;
    QCPItemStraightLine* non_finite_line_;
    QCPItemText* non_finite_label_;
    QCPItemStraightLine* divergence_;
    QCPItemText* note_;
    QComboBox* scale_box_;
    Scale scale_ = Scale::Linear;
    Band band_ = Band::Element;
    double symlog_c_[2] = {1, 1};  // the symlog constant of the left and right value axes
    // Chooses each value axis' symlog constant from the values it shows.
    void updateSymlogConstants();
    double smoothing_ = 0;
    int64_t view_step_ = 0;
    std::optional<int64_t> non_finite_step_;
    // What the graphs were last decimated for; stale once values arrive.
    QCPRange decimated_range_;
    int decimated_columns_ = 0;
    bool stale_ = true;
    bool fitting_ = false;  // refresh() is moving the axes itself
};

}  // namespace stepscope::ui
