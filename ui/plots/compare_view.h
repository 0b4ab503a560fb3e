// The Compare-models view: every shipped or opened recall model's accuracy against the stored pairs K and
// against the attention state one sequence holds, one curve each, as recall-vs-state-size plots are drawn
// (Zoology, Arora et al. 2023). The curves are the engine's comparison (stepscope/model_comparison.h),
// evaluated off the window's thread; clicking a point asks to open that model on an instance of that K.
#pragma once

#include <QStringList>
#include <QWidget>

#include <vector>

#include "stepscope/model_comparison.h"

class QCPAxisRect;
class QCPCurve;
class QCustomPlot;
class QLabel;
class QProgressBar;
class QPushButton;

namespace stepscope::ui {

class ComparisonRunner;

class CompareView : public QWidget {
    Q_OBJECT

public:
    // Lists the shipped recall demos; evaluates them the first time the view is shown.
    explicit CompareView(QWidget* parent = nullptr);

    // Adds a model file (once) and evaluates it when the view is or becomes shown.
    void addModel(const QString& path);
    // The files compared, in the order their curves are drawn.
    QStringList models() const { return paths_; }
    // Evaluates every listed model again (cancelling an evaluation in flight).
    void evaluate();
    bool busy() const;
    // Not busy, and every listed model has its curve or the reason it has none.
    bool settled() const;

    // The evaluated curves, in the order of models(); a model that failed or is pending has none.
    const std::vector<ComparedModel>& curves() const { return curves_; }
    QStringList curvePaths() const { return curve_paths_; }
    QCustomPlot* plot() const { return plot_; }
    // Model `index`'s curve in the left (stored pairs) or right (state bytes) panel.
    QCPCurve* curve(int index, bool bytes) const;
    // Where point `point` of model `index` is drawn, in the plot widget's pixels.
    QPoint pointPosition(int index, int point, bool bytes) const;
    // What a hover at `at` (plot pixels) shows: the point's model, group, value and state; empty off the points.
    QString pointText(const QPoint& at) const;
    // The status line: what is being evaluated, what failed, or how to use the view.
    QString statusText() const;

signals:
    // A point was clicked: open `path` on a fresh recall instance of `pairs` pairs.
    void openRequested(const QString& path, int pairs);

protected:
    void showEvent(QShowEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    void onEvaluated(const QString& path, const ComparedModel& curve);
    void onFailed(const QString& path, const QString& message);
    void onClicked(QCPCurve* clicked, int data_index);
    void redraw();
    void evaluateMissing();

    ComparisonRunner* runner_;
    QCustomPlot* plot_;
    QCPAxisRect* pairs_rect_;
    QCPAxisRect* bytes_rect_;
    QPushButton* add_;
    QPushButton* again_;
    QProgressBar* progress_;
    QLabel* status_;
    QStringList paths_;        // every model listed
    QStringList curve_paths_;  // the models evaluated, in the order of paths_
    std::vector<ComparedModel> curves_;
    std::vector<QCPCurve*> pairs_curves_, bytes_curves_;
    QStringList failures_;  // "name: why" of models that could not be evaluated
    QStringList queued_;    // handed to the runner and not yet answered
    bool shown_ = false;
};

}  // namespace stepscope::ui
