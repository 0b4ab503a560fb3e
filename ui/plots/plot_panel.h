// The four plots of the viewed run, the other runs they draw beside it, and the frame timer that paces their redraws.
#pragma once

#include <QElapsedTimer>
#include <QList>
#include <QSet>
#include <QTimer>
#include <QWidget>

#include <optional>
#include <utility>

#include "plots/plot_view.h"
#include "session/trace_store.h"
#include "session/view_recompute.h"
#include "stepscope/observation.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSlider;
class QSpinBox;
class QTabWidget;

namespace stepscope::ui {

class AttentionPlot;
class CapacityPlot;
class DivergencePlot;
class HeadGridPlot;
class OutputPlot;
class PerformancePlot;
class PlotView;
class SpectrumPlot;
class StatePlot;
class TimePlot;
class TokenView;

class PlotPanel : public QWidget {
    Q_OBJECT

public:
    // `current` is the run's store, owned by the SessionController and read on the UI thread only.
    explicit PlotPanel(const TraceStore* current, QWidget* parent = nullptr);

    OutputPlot* outputs() const { return outputs_; }
    StatePlot* states() const { return states_; }
    AttentionPlot* attention() const { return attention_; }
    PerformancePlot* performance() const { return performance_; }
    SpectrumPlot* spectrum() const { return spectrum_; }
    CapacityPlot* capacity() const { return capacity_; }
    DivergencePlot* divergence() const { return divergence_; }
    HeadGridPlot* headGrid() const { return head_grid_; }
    TokenView* tokens() const { return tokens_; }
    // The plots to export: each that has something to show (PlotView::notExported), in the list's order.
    QList<PlotView*> plots() const;
    // The plots plots() leaves out, each with why: "Spectrum of S (no singular values recorded: ...)".
    QStringList skippedPlots() const;
    // The time plots (outputs, state norms, performance, capacity, divergence) share the range of
    // steps shown: a zoom or drag of one moves them all, a reset resets them all. On by default.
    void setTimeAxesLinked(bool linked);
    // Every time plot draws the shown element (0), or the batch's mean in a min–max band (1) or a ±std band (2).
    void setBatchBand(int band);
    int batchBand() const;
    bool timeAxesLinked() const;
    // The tabs under the plots, for tests.
    QTabWidget* tabs() const { return tabs_; }
    // Every plot plots() may list, whether this run has something for it or not.
    QList<PlotView*> allPlots() const;
    // The view or page named `name` in the list of views (view_list.h), or null.
    QWidget* page(const QString& name) const;
    template <typename Page>
    Page* page() const {
        for (const auto& named : pages_)
            if (auto* found = qobject_cast<Page*>(named.second)) return found;
        return nullptr;
    }
    // Brings `page` to the front of the tabs it shares (performance, spectrum, capacity, divergence, pages).
    void showView(QWidget* page);
    // Adds a page that is not a plot (the Intervene panel) to those tabs.
    void addPage(QWidget* page, const QString& title);
    // What the views shown need looked inside: the attention map's linear layer, the spectrum's or capacity's.
    ObservationOptions observation() const;
    // What the views shown lack of the run's records, the heatmap's first: computed from the run's history on
    // demand (viewsWanted). Empty when they lack nothing.
    ViewRequest missingObservations() const;
    // The line above the plots while a view is computed (its progress and Cancel), or after a cancel (Compute).
    QString recomputeText() const;
    bool recomputeShown() const;

    // The viewed run (`current`, null before the first) and the runs every time plot draws beside it
    // (dashed, in their colours), named above the plots.
    void setRuns(const TraceStore* current, std::vector<RunOverlay> others, const QString& viewed_name = {});
    const TraceStore* current() const { return current_; }
    // The runs drawn beside the viewed one.
    const std::vector<RunOverlay>& overlays() const { return overlays_; }
    // Smoothing of every time plot, 0 (off) to 0.99.
    void setSmoothing(double weight);
    double smoothing() const;
    // Redraws counted since construction: at most 12 a second while steps arrive, however fast they come.
    int frames() const { return frames_; }
    // The first step where the current branch's output left its original's, as marked on the plots.
    std::optional<int64_t> divergenceMark() const { return diverged_at_; }

public slots:
    void rebuildAll();
    void appendFrom(int first);
    void setViewStep(qint64 step);
    // Draws everything pending now, shown or behind a tab (before an export).
    void refreshNow();
    // A view's recomputation, as the SessionController reports it.
    void viewsStarted(const stepscope::ui::ViewRequest& request);
    void viewsProgress(qint64 done, qint64 total);
    void viewsRecomputed(const stepscope::ui::ViewRequest& request);
    void viewsFailed(const stepscope::ui::ViewRequest& request, const QString& message, bool shown);

signals:
    // The user chose another batch element to follow.
    void observedChanged(int element);
    // A line for the status bar: a plot's context-menu result, or the first NaN or infinity of a run.
    void message(const QString& text);
    // The views shown need other layers looked inside (observation()).
    void observationChanged(const stepscope::ObservationOptions& what);
    // The views shown lack `request` (empty: nothing), the user cancels its computation, or asks for it again.
    void viewsWanted(const stepscope::ui::ViewRequest& request);
    void viewsCancelRequested();
    void viewsComputeRequested();

private:
    // Starts the frame timer to fire a frame interval after the last frame (at once when that is past):
    // 25 ms for what the user does, 83 ms while steps stream in.
    void scheduleFrame();
    void onFrame();
    // Refreshes the dirty views: the shown ones, or with `hidden_too` every one.
    void drawFrame(bool hidden_too);
    // Says where the current run first held a NaN or infinity, once per run.
    void checkFinite(int first);
    // Every view, shown or not.
    QList<PlotView*> views() const;
    void updateObservation();
    // Announces missingObservations() when it changed.
    void updateWanted();
    // Gives every view the line they show where values are missing.
    void setComputeNote(const QString& note);
    void updateDivergenceMark();
    // The time plots, which share smoothing, the batch band and linked axes.
    QList<TimePlot*> timePlots() const;

    const TraceStore* current_;
    QList<std::pair<QString, QWidget*>> pages_;  // every view of view_entries(), by name, in its order
    QList<PlotView*> views_;                     // those that are plots
    std::vector<RunOverlay> overlays_;
    OutputPlot* outputs_;
    StatePlot* states_;
    AttentionPlot* attention_;
    PerformancePlot* performance_;
    SpectrumPlot* spectrum_;
    CapacityPlot* capacity_;
    DivergencePlot* divergence_;
    HeadGridPlot* head_grid_;
    TokenView* tokens_;
    bool tokens_stale_ = false;  // steps arrived while the token table was hidden or between frames
    QTabWidget* tabs_;
    ObservationOptions observation_;  // as last announced
    std::optional<int64_t> diverged_at_;
    QSpinBox* observed_;
    QLabel* pinned_label_;
    QSlider* smoothing_;
    QLabel* smoothing_label_;
    QCheckBox* link_axes_;
    QComboBox* band_;
    bool linking_ = false;  // a linked range or reset is being passed on
    bool non_finite_reported_ = false;
    QTimer frame_timer_;
    QElapsedTimer last_frame_;   // since the last frame began
    QElapsedTimer last_append_;  // since records last arrived
    QSet<PlotView*> dirty_;
    ViewRequest wanted_;  // as last announced
    QWidget* recompute_row_;
    QLabel* recompute_label_;
    QProgressBar* recompute_progress_;
    QPushButton* recompute_cancel_;
    QPushButton* recompute_again_;
    int frames_ = 0;
};

}  // namespace stepscope::ui
