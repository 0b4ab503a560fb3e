// A plot of values over steps: subclasses name the series, this class feeds and scales the graphs.
#pragma once

#include <QString>

#include <functional>
#include <optional>
#include <vector>

#include "plot_view.h"

class QCPAxis;

class QCPGraph;
class QCPItemStraightLine;
class QCPItemText;

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
    void markDivergence(std::optional<int64_t> step) override;
    // Graphs drawn for the current run (tests read their data).
    const std::vector<QCPGraph*>& currentGraphs() const { return graphs_; }

protected:
    // The series of `store` under the current selection; `store` is the current or the pinned run.
    virtual std::vector<Series> series(const TraceStore& store) const = 0;
    virtual QString yLabel() const = 0;
    virtual QString y2Label() const { return {}; }
    // The note shown while there is nothing to draw.
    virtual QString emptyNote() const;
    // Selectors call this when the choice changes.
    void selectionChanged();
    // Norms that grow at different rates (linear ||S|| against full ||K||) read better on a log axis.
    void setLogScale(bool log);

private:
    QCPGraph* addGraph(const Series& s, bool pinned);
    void fill(QCPGraph* graph, const Series& s, const TraceStore& store, int first);
    void fitAxes();
    // The least value any graph on `axis` holds; +inf when none holds data.
    double lowestValue(QCPAxis* axis) const;

    std::vector<Series> series_;
    std::vector<QCPGraph*> graphs_;
    QCPItemStraightLine* cursor_;
    QCPItemStraightLine* divergence_;
    QCPItemText* note_;
    bool log_scale_ = false;
};

}  // namespace stepscope::ui
