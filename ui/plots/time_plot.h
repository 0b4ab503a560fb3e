// A plot of values over steps: subclasses name the series, this class feeds, smooths and scales the graphs.
#pragma once

#include <QSet>
#include <QString>
#include <qcustomplot.h>

#include <functional>
#include <optional>
#include <vector>

#include "plots/plot_view.h"

class QCheckBox;

namespace stepscope::ui {

class TimePlot : public PlotView {
    Q_OBJECT

public:
    struct Series {
        QString name;
        int color = 0;
        bool right_axis = false;
        std::function<std::optional<double>(const StepRecord&)> value;
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
    bool logScale() const { return log_scale_; }
    // The first step at which a series of the current run is NaN or infinite.
    std::optional<int64_t> firstNonFinite() const { return non_finite_step_; }
    // What hovering at `position` (plot pixels) tells: step, series and value; empty when no curve is near.
    QString hoverText(const QPoint& position) const;
    // The values listed beside the cursor at the viewed step; empty while the cursor is hidden.
    QString cursorText() const;

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
        std::vector<double> data;
        QCPRange all, positive;  // of the finite values; of those above 0 (a log axis)
        bool any = false, any_positive = false;
        void push(double v);
    };
    // One series on the plot: its raw graph and, while smoothing, the average over it.
    struct Drawn {
        Series series;
        bool pinned = false;
        QCPGraph* raw = nullptr;
        QCPGraph* smooth = nullptr;
        std::vector<double> keys;  // steps, ascending
        Values raw_values, smooth_values;
        double average = 0;  // the running EMA before bias correction
        int averaged = 0;    // finite values averaged so far
    };

    void add(const Series& s, bool pinned, const QString& legend_name);
    void fill(Drawn& drawn, const TraceStore& store, int first);
    void fitAxes();
    // Pixel columns the data is decimated to: the axis rect's width.
    int columns() const;
    // Gives every graph what it draws of its values over the x axis's range.
    void updateGraphs();
    bool drawsEveryPoint() const;
    // The data range of the visible graphs on `axis`, positive values only on a log axis.
    bool valueRange(QCPAxis* axis, QCPRange& range) const;
    void updateCursor();
    void updateNonFiniteMarker();
    QString hiddenKey(const Drawn& drawn) const;
    bool visible(const Drawn& drawn) const;

    std::vector<Drawn> drawn_;  // the pinned run's series first, then the current run's
    std::vector<QCPGraph*> graphs_;
    QSet<QString> hidden_;  // series the user hid from the legend, kept across rebuilds
    QCPItemStraightLine* cursor_;
    QCPItemText* cursor_label_;
    QCPItemStraightLine* non_finite_line_;
    QCPItemText* non_finite_label_;
    QCPItemStraightLine* divergence_;
    QCPItemText* note_;
    QCheckBox* log_;
    bool log_scale_ = false;
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
