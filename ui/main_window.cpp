// The explorer window: assembles the panels and routes the run's signals to them; it holds no run state itself.
#include "main_window.h"

#include <QApplication>
#include <QFileDialog>
#include <QGroupBox>
#include <QIcon>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QVBoxLayout>

#include "export_controller.h"
#include "divergence_plot.h"
#include "input_panel.h"
#include "intervene_panel.h"
#include "model_panel.h"
#include "plot_panel.h"
#include "run_controller.h"
#include "session_io.h"
#include "step_controls.h"

namespace stepscope::ui {

MainWindow::MainWindow(const SessionSpec& spec, QWidget* parent)
    : QMainWindow(parent),
      run_(new RunController(this)),
      model_(new ModelPanel),
      input_(new InputPanel),
      steps_(new StepControls),
      plots_(new PlotPanel(&run_->traces())),
      export_(new ExportController(this, plots_, run_)),
      session_io_(new SessionIO(this, run_)),
      intervene_(new IntervenePanel),
      apply_(new QPushButton(tr("Apply: new run"))),
      banner_(new QLabel),
      run_label_(new QLabel) {
    setWindowIcon(QIcon(QStringLiteral(":/icons/stepscope.png")));
    apply_->setToolTip(tr("Build the model of the form and start a new run (Ctrl+Return)"));
    apply_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));

    auto* side = new QWidget;
    auto* side_layout = new QVBoxLayout(side);
    auto* model_group = new QGroupBox(tr("Model"));
    (new QVBoxLayout(model_group))->addWidget(model_);
    auto* input_group = new QGroupBox(tr("Input sequence"));
    (new QVBoxLayout(input_group))->addWidget(input_);
    side_layout->addWidget(model_group);
    side_layout->addWidget(input_group);
    side_layout->addStretch(1);
    auto* scroll = new QScrollArea;
    scroll->setWidget(side);
    scroll->setWidgetResizable(true);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setMinimumWidth(side->sizeHint().width() + 24);
    // Apply stays in view below the scrolling forms.
    auto* left = new QWidget;
    auto* left_layout = new QVBoxLayout(left);
    left_layout->setContentsMargins(0, 0, 0, 4);
    left_layout->addWidget(scroll, 1);
    left_layout->addWidget(apply_);

    banner_->setWordWrap(true);
    banner_->setStyleSheet(QStringLiteral("QLabel { background: #fdecea; color: #8a1c1c; border: 1px solid #f5c2c0; "
                                          "padding: 4px 8px; }"));
    banner_->setVisible(false);
    connect(banner_, &QLabel::linkActivated, banner_, &QLabel::hide);

    auto* right = new QWidget;
    auto* right_layout = new QVBoxLayout(right);
    right_layout->setContentsMargins(0, 0, 0, 0);
    right_layout->addWidget(steps_);
    right_layout->addWidget(banner_);
    right_layout->addWidget(plots_, 1);
    auto* splitter = new QSplitter(Qt::Horizontal);
    splitter->addWidget(left);
    splitter->addWidget(right);
    splitter->setStretchFactor(1, 1);
    setCentralWidget(splitter);
    statusBar()->addPermanentWidget(run_label_);
    plots_->addPage(intervene_, tr("Intervene"));
    buildMenus();

    connect(model_, &ModelPanel::validityChanged, this, [this](bool valid) {
        apply_->setEnabled(valid);
        input_->setDecoder(model_->fieldText(QStringLiteral("kind")) == QLatin1String("decoder"));
    });
    connect(model_, &ModelPanel::loadWeightsRequested, this, [this] {
        QSettings settings;
        const QString path = QFileDialog::getOpenFileName(this, tr("Load weights"),
                                                          settings.value(QStringLiteral("weights/lastDirectory")).toString(),
                                                          tr("safetensors (*.safetensors);;All files (*)"));
        if (path.isEmpty()) return;
        settings.setValue(QStringLiteral("weights/lastDirectory"), QFileInfo(path).absolutePath());
        loadWeights(path);
    });
    connect(apply_, &QPushButton::clicked, this, &MainWindow::applyForms);

    connect(steps_, &StepControls::stepRequested, run_, &RunController::step);
    connect(steps_, &StepControls::runRequested, run_, &RunController::run);
    connect(steps_, &StepControls::pauseRequested, run_, &RunController::pause);
    connect(steps_, &StepControls::resetRequested, run_, &RunController::reset);
    connect(steps_, &StepControls::cancelRequested, run_, [this] {
        run_->pause();
        run_->cancel();
    });
    connect(steps_, &StepControls::scrubbed, run_, &RunController::setViewStep);

    connect(run_, &RunController::busyChanged, steps_, &StepControls::setBusy);
    connect(run_, &RunController::runningChanged, steps_, &StepControls::setRunning);
    connect(run_, &RunController::progress, steps_, &StepControls::setProgress);
    connect(run_, &RunController::runOpened, this, &MainWindow::onRunOpened);
    connect(run_, &RunController::recordsAppended, plots_, &PlotPanel::appendFrom);
    connect(run_, &RunController::truncated, plots_, &PlotPanel::rebuildAll);
    connect(run_, &RunController::viewStepChanged, this, [this](qint64 step) {
        steps_->setTimeline(run_->traces().base_step(), run_->lastStep(), step);
        plots_->setViewStep(step);
    });
    connect(run_, &RunController::failed, this, &MainWindow::onFailed);
    connect(run_, &RunController::stepsFinished, this, [this](qint64 done, bool cancelled, const QString& error) {
        if (!error.isEmpty()) showError(tr("Stopped after %1 steps: %2").arg(done).arg(error));
        else if (cancelled) showStatus(tr("Cancelled after %1 steps").arg(done));
        else if (done > 0) showStatus(tr("Stepped %1; now at step %2").arg(done).arg(run_->lastStep()));
        updateTitle();
    });
    connect(run_, &RunController::snapshotSaved, this,
            [this](const QString& path) { showStatus(tr("Saved snapshot %1").arg(path)); });
    connect(plots_, &PlotPanel::observedChanged, run_, &RunController::setObserved);
    connect(plots_, &PlotPanel::observationChanged, run_, &RunController::setObservation);
    connect(intervene_, &IntervenePanel::interveneRequested, this, [this](const Intervention& i, bool whole_run) {
        // The original stays on the plots, dashed, while the branch is drawn over it.
        if (run_->session().interventions.empty() && !run_->traces().empty()) plots_->pin(run_->traces());
        run_->intervene(i, whole_run);
    });
    connect(intervene_, &IntervenePanel::originalRequested, run_, &RunController::clearInterventions);
    connect(run_, &RunController::branched, this, [this] {
        plots_->showView(plots_->divergence());
        updateIntervenePanel();
        showStatus(tr("Branched: %1").arg(describe(run_->session().interventions.back())));
    });
    connect(run_, &RunController::viewStepChanged, this, &MainWindow::updateIntervenePanel);
    for (QObject* source : {static_cast<QObject*>(export_), static_cast<QObject*>(session_io_)}) {
        connect(source, SIGNAL(done(QString)), this, SLOT(showStatus(QString)));
        connect(source, SIGNAL(failed(QString)), this, SLOT(showError(QString)));
    }

    model_->setConfig(spec.config);
    model_->setWeightsSeed(spec.weights_seed);
    input_->fill(spec);
    steps_->setHasRun(false);
    updateTitle();
    run_->open(spec);
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(session_io_->openAction());
    file->addAction(session_io_->saveAction());
    file->addSeparator();
    QAction* weights = file->addAction(tr("Load weights…"));
    connect(weights, &QAction::triggered, model_, &ModelPanel::loadWeightsRequested);
    file->addAction(export_->openSnapshotAction());
    file->addAction(export_->saveSnapshotAction());
    file->addSeparator();
    file->addAction(export_->exportPlotAction());
    file->addAction(export_->exportAllAction());
    file->addAction(export_->exportTracesAction());
    file->addSeparator();
    QAction* quit = file->addAction(tr("Quit"));
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    QAction* apply = run->addAction(tr("Apply forms: new run"));
    connect(apply, &QAction::triggered, this, &MainWindow::applyForms);
    run->addSeparator();
    for (QAction* action : {steps_->stepAction(), steps_->stepManyAction(), steps_->runAction(),
                            steps_->resetAction(), steps_->cancelAction()})
        run->addAction(action);
    run->addSeparator();
    QAction* pin = run->addAction(tr("Pin run for comparison"));
    pin->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_P));
    pin->setToolTip(tr("Keep this run on the plots, dashed, and overlay the next run on it"));
    connect(pin, &QAction::triggered, this, &MainWindow::pinRun);
    QAction* unpin = run->addAction(tr("Unpin"));
    connect(unpin, &QAction::triggered, plots_, &PlotPanel::unpin);
    run->addSeparator();
    QAction* intervene = run->addAction(tr("Intervene…"));
    connect(intervene, &QAction::triggered, this, &MainWindow::showIntervenePanel);
    intervene->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_I));
    intervene->setToolTip(tr("Ablate heads, edit the state or the next input at the viewed step: a branch compared "
                             "with its original"));

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* keys = help->addAction(tr("Keyboard shortcuts"));
    connect(keys, &QAction::triggered, this, [this] {
        QMessageBox::information(
            this, tr("Keyboard shortcuts"),
            tr("F10\tStep\nShift+F10\tStep N\nF5\tRun / Pause\nCtrl+R\tReset (new sequence)\nEsc\tCancel\n"
               "Ctrl+Return\tApply forms: new run\nCtrl+P\tPin run for comparison\nCtrl+E\tExport plot\n"
               "Ctrl+O / Ctrl+S\tOpen / save session\n\nOn a plot: drag to pan, wheel to zoom, "
               "double-click to follow the data again."));
    });
    QAction* about = help->addAction(tr("About Stepscope"));
    connect(about, &QAction::triggered, this, [this] {
        QMessageBox::about(this, tr("About Stepscope"),
                           tr("Stepscope %1\nStep recurrent transformers one element at a time and watch their "
                              "state.\nA C++ rebuild of fast-transformers' recurrent encoders and decoders.")
                               .arg(QApplication::applicationVersion()));
    });
}

QString MainWindow::errorText() const { return banner_->isHidden() ? QString() : last_error_; }

bool MainWindow::applyForms() {
    const auto config = model_->config();
    if (!config) {
        showError(tr("The model form has an error: %1").arg(model_->firstError()));
        return false;
    }
    SessionSpec spec = run_->hasRun() ? run_->session() : SessionSpec{};
    spec.config = *config;
    spec.weights_seed = model_->weightsSeed();
    spec.device = model_->device();
    // A weights file stays only while the form still describes its model.
    spec.weights_path = weights_config_ && *weights_config_ == *config ? weights_path_ : QString();
    spec.snapshot_path.clear();
    spec.steps = 0;
    if (!input_->apply(spec)) {
        showError(tr("The input form is incomplete: see the message under it."));
        return false;
    }
    run_->open(spec);
    return true;
}

void MainWindow::pinRun() {
    if (!run_->hasRun() || run_->traces().empty()) {
        showStatus(tr("Step the model first: there is nothing to pin"));
        return;
    }
    plots_->pin(run_->traces());
    showStatus(tr("Pinned %1; the next run is drawn over it").arg(run_->traces().info().label));
}

void MainWindow::loadWeights(const QString& path) {
    SessionSpec spec = run_->hasRun() ? run_->session() : SessionSpec{};
    input_->apply(spec);
    spec.weights_path = path;
    spec.snapshot_path.clear();
    spec.steps = 0;
    run_->open(spec);
}

void MainWindow::showError(const QString& message) {
    last_error_ = message;
    banner_->setText(QStringLiteral("%1 &nbsp; <a href=\"dismiss\">dismiss</a>").arg(message.toHtmlEscaped()));
    banner_->setVisible(true);
    statusBar()->showMessage(message, 8000);
}

void MainWindow::showStatus(const QString& message) { statusBar()->showMessage(message, 8000); }

void MainWindow::onRunOpened() {
    const SessionSpec spec = run_->session();
    const RunInfo& info = run_->traces().info();
    model_->setConfig(spec.config);
    model_->setWeightsSeed(spec.weights_seed);
    model_->setDevice(spec.device);
    model_->setWeightsSource(info.weights);
    input_->fill(spec);
    weights_path_ = spec.weights_path;
    weights_config_ = spec.weights_path.isEmpty() ? std::nullopt : std::optional<ModelConfig>(spec.config);
    steps_->setHasRun(true);
    steps_->setProgress(0, 1);
    plots_->rebuildAll();
    updateIntervenePanel();
    banner_->setVisible(false);
    showStatus(info.base_step > 0 ? tr("Continuing from the snapshot at step %1").arg(info.base_step)
                                  : tr("New run: %1").arg(info.label));
    updateTitle();
}

void MainWindow::onFailed(const QString& context, const QString& message) {
    const QString kept = tr(" The previous run is unchanged.");
    if (context == QLatin1String("model")) {
        model_->showEngineError(message);
        showError(tr("Model not built: %1.").arg(message) + kept);
    } else if (context == QLatin1String("weights")) {
        showError(tr("Weights not loaded: %1.").arg(message) + kept);
    } else if (context == QLatin1String("input")) {
        input_->showError(message);
        showError(tr("Input refused: %1.").arg(message) + kept);
    } else if (context == QLatin1String("device")) {
        showError(tr("Device refused: %1.").arg(message) + kept);
    } else if (context == QLatin1String("intervention")) {
        showError(tr("Intervention refused: %1.").arg(message) + tr(" The run is unchanged."));
    } else if (context == QLatin1String("snapshot")) {
        showError(tr("Snapshot: %1.").arg(message) + kept);
    } else {
        showError(message);
    }
}

void MainWindow::showIntervenePanel() { plots_->showView(intervene_); }

void MainWindow::updateIntervenePanel() {
    intervene_->setRun(run_->traces(), run_->viewStep(), run_->session().interventions);
}

void MainWindow::updateTitle() {
    if (!run_->hasRun()) {
        setWindowTitle(tr("Stepscope"));
        run_label_->setText(tr("building the model…"));
        return;
    }
    const RunInfo& info = run_->traces().info();
    const ModelConfig& c = info.model->config();
    setWindowTitle(tr("Stepscope — %1 %2, %3 layers × %4 heads, d_model %5")
                       .arg(c.kind == ModelKind::Encoder ? tr("encoder") : tr("decoder"))
                       .arg(info.label)
                       .arg(c.n_layers)
                       .arg(c.n_heads)
                       .arg(c.d_model()));
    run_label_->setText(tr("%1 · batch %2 · sequence seed %3 · step %4")
                            .arg(info.weights)
                            .arg(info.batch)
                            .arg(info.sequence_seed)
                            .arg(run_->lastStep()));
}

}  // namespace stepscope::ui
