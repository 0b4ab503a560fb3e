// The explorer window: model and input forms on the left, stepping controls and the plots on the right.
#pragma once

#include <QMainWindow>

#include <optional>

#include "session_spec.h"

class QLabel;
class QPushButton;

namespace stepscope::ui {

class ExportController;
class InputPanel;
class IntervenePanel;
class ModelPanel;
class PlotPanel;
class RunController;
class SessionIO;
class StepControls;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    // Opens `spec` at once (the seed example when started without arguments).
    explicit MainWindow(const SessionSpec& spec, QWidget* parent = nullptr);
    ~MainWindow() override;

    RunController* controller() const { return run_; }
    ModelPanel* modelPanel() const { return model_; }
    InputPanel* inputPanel() const { return input_; }
    StepControls* stepControls() const { return steps_; }
    PlotPanel* plotPanel() const { return plots_; }
    ExportController* exporter() const { return export_; }
    SessionIO* sessionIO() const { return session_io_; }
    IntervenePanel* intervenePanel() const { return intervene_; }
    // Shows the Intervene panel, a tab under the plots (Run ▸ Intervene…).
    void showIntervenePanel();
    // The last error shown in the banner; empty when none is showing.
    QString errorText() const;

public slots:
    // A new run from the forms; false (with the reason shown) when a form is incomplete.
    bool applyForms();
    // Keeps the current run on the plots, dashed, to compare with the next.
    void pinRun();
    void loadWeights(const QString& path);
    void showError(const QString& message);
    void showStatus(const QString& message);

private:
    void buildMenus();
    void onRunOpened();
    void onFailed(const QString& context, const QString& message);
    void updateTitle();
    void updateIntervenePanel();

    RunController* run_;
    ModelPanel* model_;
    InputPanel* input_;
    StepControls* steps_;
    PlotPanel* plots_;
    ExportController* export_;
    SessionIO* session_io_;
    IntervenePanel* intervene_;
    QPushButton* apply_;
    QLabel* banner_;
    QLabel* run_label_;
    QString last_error_;
    // The weights file of the current model and the config it came with: kept while the form matches.
    QString weights_path_;
    std::optional<ModelConfig> weights_config_;
};

}  // namespace stepscope::ui
