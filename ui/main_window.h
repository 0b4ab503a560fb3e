// The explorer window: model and input forms on the left, stepping controls and the plots on the right.
#pragma once

#include <QMainWindow>
#include <QMessageBox>

#include <functional>
#include <optional>

#include "session/session_spec.h"
#include "window_commands.h"

class QAction;
class QLabel;
class QMenu;
class QPushButton;

namespace stepscope::ui {

class CompareView;
class ExportController;
class InputPanel;
class IntervenePanel;
class ModelPanel;
class PlotPanel;
class RunsPane;
class SessionController;
class SessionIO;
class StepControls;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    // Opens `spec` at once (the seed example when started without arguments), unless `open` is false
    // (the caller opens a file or a session's runs itself).
    explicit MainWindow(const SessionSpec& spec, QWidget* parent = nullptr, bool open = true);
    ~MainWindow() override;

    SessionController* controller() const { return controller_; }
    ModelPanel* modelPanel() const { return model_; }
    InputPanel* inputPanel() const { return input_; }
    StepControls* stepControls() const { return steps_; }
    PlotPanel* plotPanel() const { return plots_; }
    ExportController* exporter() const { return export_; }
    SessionIO* sessionIO() const { return session_io_; }
    IntervenePanel* intervenePanel() const { return intervene_; }
    CompareView* compareView() const { return compare_; }
    // Shows the Compare-models window (File ▸ Compare models), evaluating its models the first time.
    void showCompareView();
    RunsPane* runsPane() const { return runs_pane_; }
    // Shows the Intervene panel, a tab under the plots (Run ▸ Intervene…).
    void showIntervenePanel();
    // The last error shown in the banner; empty when none is showing.
    QString errorText() const;
    // Newest first, as the File menu lists them.
    QStringList recentFiles() const;

    // Asks about unsaved work with `text` and answers Save, Discard or Cancel: a message box unless a
    // test replaces it.
    using DiscardQuestion = std::function<QMessageBox::StandardButton(const QString& text)>;
    void setDiscardQuestion(DiscardQuestion ask) { ask_discard_ = std::move(ask); }
    // True when the window may close, losing the runs, by `action` ("quitting"): nothing is unsaved,
    // or the user saved the session or chose to discard the runs. No other command drops a run.
    bool mayDiscardRun(const QString& action);

public slots:
    // A new run of the forms' model, without interventions; the runs there are stay. False (with the
    // reason shown) when a form is incomplete.
    bool applyForms();
    // "Show this run": the viewed run stays drawn (dashed) when another is viewed.
    void pinRun();
    // Fills the model form from the file's config and opens it; an input of another width is
    // offered a switch to the fed-back output. With `pairs` > 0 a recall model opens on a fresh
    // instance of that many pairs and steps through it (the Compare-models view's click).
    void loadWeights(const QString& path, int pairs = 0);
    // Opens a model, snapshot, session or CSV input by what the file is (drops, Recent files).
    bool openFile(const QString& path);
    // The input becomes the previous output fed back, and the run opens again.
    void switchInputToFeedback();
    void showError(const QString& message);
    void showStatus(const QString& message);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    // The menus, from the command table (window_commands.h).
    void buildMenus();
    // The action of a menu command the window runs itself.
    QAction* windowAction(CommandId id);
    QMenu* demoMenu();
    void showShortcuts();
    void addRecent(const QString& path);
    void updateRecentMenu();
    void onRunOpened();
    void onFailed(const QString& context, const QString& message);
    void updateTitle();
    void updateIntervenePanel();
    // Gives the plots the viewed run and the visible others, when they changed.
    void updatePlotRuns();
    // Takes the error banner away: a later success, or the input it was about changed.
    void clearError();
    // Lays the error banner over the top edge of the plots, so it never moves them.
    void placeBanner();
    bool eventFilter(QObject* watched, QEvent* event) override;

public:
    // Every command with a shortcut: (keys, what), in menu order.
    QList<QPair<QString, QString>> shortcutList() const;
    // The Usage section of the README (installed, else the copy built into the binary), as Markdown.
    static QString usageMarkdown();
    // Opens Help > Usage: the README's usage in a window of its own.
    void showUsage();

private:
    SessionController* controller_;
    ModelPanel* model_;
    InputPanel* input_;
    StepControls* steps_;
    PlotPanel* plots_;
    ExportController* export_;
    SessionIO* session_io_;
    IntervenePanel* intervene_;
    CompareView* compare_;
    RunsPane* runs_pane_;
    QPushButton* apply_;
    QLabel* banner_;
    QLabel* run_label_;
    // What the plots were last given: the viewed store, then each other run's store, colour and last step.
    QList<QPair<const void*, QString>> plotted_runs_;
    QMenu* recent_menu_ = nullptr;
    // Pause cancels an unbounded run: its "cancelled" report is a pause, said as one.
    bool pausing_ = false;
    QString last_error_;
    QString error_context_;  // what the banner is about: "input", "model", ... or empty
    // A file opened by openFile whose run is still being built: it joins Open recent once it opens.
    QString pending_recent_;
    // Said once the run of newly loaded weights opens: its CSV input was read at another width.
    QString pending_warning_;
    // Says where the run branched and that the abandoned steps are pinned, with the next status.
    QString branch_note_;
    DiscardQuestion ask_discard_;
    // The weights file of the current model and the config it came with: kept while the form matches.
    QString weights_path_;
    std::optional<ModelConfig> weights_config_;
};

}  // namespace stepscope::ui
