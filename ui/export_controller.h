// The GUI's export and snapshot actions: file dialogs, the chosen image size, the writers they end in.
#pragma once

#include <QObject>
#include <QSize>

#include <functional>

class QAction;
class QWidget;

namespace stepscope::ui {

class PlotPanel;
class SessionController;

class ExportController : public QObject {
    Q_OBJECT

public:
    ExportController(QWidget* window, PlotPanel* plots, SessionController* run);

    QAction* exportPlotAction() const { return export_plot_; }
    QAction* exportAllAction() const { return export_all_; }
    QAction* exportTracesAction() const { return export_traces_; }
    QAction* exportAnimationAction() const { return export_animation_; }
    QAction* saveSnapshotAction() const { return save_snapshot_; }
    QAction* openSnapshotAction() const { return open_snapshot_; }

    // Asked before Open snapshot replaces the run; false leaves it (the window asks about unsaved work).
    void setReplaceGuard(std::function<bool()> guard) { may_replace_ = std::move(guard); }

    // The dialog-free writers the actions end in (and tests call): each reports through `done` or `failed`.
    void exportPlot(int plot_index, const QString& path, QSize size);
    void exportAllPlots(const QString& directory, const QString& format, QSize size);
    void exportTraces(const QString& path);
    // The heatmap at every step it holds weights for (its window, up to the viewed step), as a GIF or MP4.
    void exportAnimation(const QString& path, QSize size);

signals:
    void done(const QString& message);
    void failed(const QString& message);
    // A snapshot file was chosen and its opening requested (for Recent files).
    void snapshotOpened(const QString& path);

private:
    QString savePath(const QString& title, const QString& filters, const QString& default_name);

    QWidget* window_;
    PlotPanel* plots_;
    SessionController* controller_;
    QAction* export_plot_;
    QAction* export_all_;
    QAction* export_traces_;
    QAction* export_animation_;
    QAction* save_snapshot_;
    QAction* open_snapshot_;
    std::function<bool()> may_replace_;
};

}  // namespace stepscope::ui
