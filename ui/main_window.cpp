// The explorer window: assembles the panels and routes the run's signals to them; it holds no run state itself.
#include "main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDesktopServices>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QGroupBox>
#include <QIcon>
#include <QLabel>
#include <QLocale>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QScrollArea>
#include <QSet>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFile>
#include <QTextBrowser>
#include <QUrl>
#include <QVBoxLayout>

#include "export_controller.h"
#include "file_dialogs.h"
#include "input_panel.h"
#include "intervene_panel.h"
#include "model_panel.h"
#include "plots/compare_view.h"
#include "plots/divergence_plot.h"
#include "plots/plot_panel.h"
#include "plots/token_view.h"
#include "session/demo_models.h"
#include "runs_pane.h"
#include "session/file_kind.h"
#include "session/session_controller.h"
#include "window_commands.h"
#include "session_io.h"
#include "step_controls.h"
#include "stepscope/config.h"

namespace stepscope::ui {

namespace {
constexpr const char* kRecentKey = "recentFiles";
constexpr int kMaxRecent = 10;
constexpr const char* kSwitchInputLink = "switch-input";

// The installed README (share/doc/stepscope), or the source tree's; empty when neither exists.
QString readme_path() {
    const QString installed =
        QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("../share/doc/stepscope/README.md"));
    if (QFileInfo::exists(installed)) return QFileInfo(installed).absoluteFilePath();
    const QString source = QStringLiteral(STEPSCOPE_SOURCE_DIR "/README.md");
    return QFileInfo::exists(source) ? source : QString();
}

// The README's usage section: installed beside the binary, or in the source tree it was built from.
QUrl readme_url() {
    const QString installed =
        QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("../share/doc/stepscope/README.md"));
    const QString source = QStringLiteral(STEPSCOPE_SOURCE_DIR "/README.md");
    QUrl url = QUrl::fromLocalFile(QFileInfo(QFileInfo::exists(installed) ? installed : source).absoluteFilePath());
    url.setFragment(QStringLiteral("usage"));
    return url;
}
}  // namespace

MainWindow::MainWindow(const SessionSpec& spec, QWidget* parent, bool open)
    : QMainWindow(parent),
      controller_(new SessionController(this)),
      model_(new ModelPanel),
      input_(new InputPanel),
      steps_(new StepControls),
      plots_(new PlotPanel(&controller_->traces())),
      export_(new ExportController(this, plots_, controller_)),
      session_io_(new SessionIO(this, controller_)),
      intervene_(new IntervenePanel),
      compare_(new CompareView(this)),
      runs_pane_(new RunsPane(controller_)),
      apply_(new QPushButton(tr("Apply: new run"))),
      banner_(new QLabel),
      run_label_(new QLabel) {
    setWindowIcon(QIcon(QStringLiteral(":/icons/stepscope.png")));
    apply_->setToolTip(tr("Build the model of the form and start a new run (Ctrl+Return)"));
    setAcceptDrops(true);

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
    // The runs under the forms: every run kept, as a tree.
    auto* runs_group = new QGroupBox(tr("Runs"));
    (new QVBoxLayout(runs_group))->addWidget(runs_pane_);
    runs_group->layout()->setContentsMargins(4, 4, 4, 4);
    auto* left_split = new QSplitter(Qt::Vertical);
    left_split->addWidget(left);
    left_split->addWidget(runs_group);
    left_split->setStretchFactor(0, 3);
    left_split->setStretchFactor(1, 2);
    left_split->setMinimumWidth(left->minimumSizeHint().width());

    banner_->setWordWrap(true);
    banner_->setStyleSheet(
        QStringLiteral("QLabel { background: #fdecea; color: #8a1c1c; border: 1px solid #f5c2c0; "
                       "padding: 4px 8px; }"));
    banner_->setVisible(false);
    connect(banner_, &QLabel::linkActivated, this, [this](const QString& link) {
        if (link == QLatin1String(kSwitchInputLink)) switchInputToFeedback();
        else banner_->hide();
    });

    auto* right = new QWidget;
    auto* right_layout = new QVBoxLayout(right);
    right_layout->setContentsMargins(0, 0, 0, 0);
    right_layout->addWidget(steps_);
    right_layout->addWidget(plots_, 1);
    // The banner lies over the plots' top edge rather than in the layout: showing it moves nothing.
    banner_->setParent(right);
    banner_->setAutoFillBackground(true);
    plots_->installEventFilter(this);
    auto* splitter = new QSplitter(Qt::Horizontal);
    splitter->addWidget(left_split);
    splitter->addWidget(right);
    splitter->setStretchFactor(1, 1);
    setCentralWidget(splitter);
    statusBar()->addPermanentWidget(run_label_);
    plots_->addPage(intervene_, tr("Intervene"));
    // A window of its own: it compares model files, not the run, and its two panels want the room.
    compare_->setWindowFlag(Qt::Window);
    compare_->setWindowTitle(tr("Compare models — Stepscope"));
    compare_->resize(1100, 600);
    // Opening a model adds a run to the tree; the viewed one stays.
    connect(compare_, &CompareView::openRequested, this,
            [this](const QString& path, int pairs) { loadWeights(path, pairs); });
    buildMenus();

    // A refusal of the input or the model is about what the form held: changing it takes the banner away.
    connect(input_, &InputPanel::changed, this, [this] {
        if (error_context_ == QLatin1String("input")) clearError();
    });
    connect(model_, &ModelPanel::validityChanged, this, [this](bool valid) {
        if (error_context_ == QLatin1String("model") || error_context_ == QLatin1String("weights")) clearError();
        apply_->setEnabled(valid);
        input_->setDecoder(model_->fieldText(QStringLiteral("kind")) == QLatin1String("decoder"));
    });
    connect(model_, &ModelPanel::loadWeightsRequested, this, [this] {
        const QString path = open_file_dialog(this, QStringLiteral("weights"), tr("Load weights"),
                                              tr("safetensors (*.safetensors);;All files (*)"));
        if (!path.isEmpty()) loadWeights(path);
    });
    connect(apply_, &QPushButton::clicked, this, &MainWindow::applyForms);

    connect(steps_, &StepControls::stepRequested, controller_, &SessionController::step);
    connect(steps_, &StepControls::playRequested, controller_, &SessionController::play);
    connect(steps_, &StepControls::pauseRequested, controller_, &SessionController::pause);
    connect(controller_, &SessionController::playingChanged, this, [this](bool running) {
        pausing_ = !running;
        if (!running) {
            showStatus(tr("Paused at step %1").arg(controller_->lastStep()));
            steps_->showPaused(controller_->lastStep());
        }
    });
    connect(steps_, &StepControls::resetRequested, controller_, &SessionController::reset);
    connect(steps_, &StepControls::cancelRequested, controller_, [this] {
        controller_->pause();
        controller_->cancel();
    });
    connect(steps_, &StepControls::scrubbed, controller_, &SessionController::setViewStep);

    connect(controller_, &SessionController::busyChanged, steps_, &StepControls::setBusy);
    connect(controller_, &SessionController::playingChanged, steps_, &StepControls::setPlaying);
    connect(controller_, &SessionController::progress, steps_, &StepControls::setProgress);
    connect(controller_, &SessionController::runOpened, this, &MainWindow::onRunOpened);
    connect(controller_, &SessionController::recordsAppended, plots_, &PlotPanel::appendFrom);
    // The status bar's step follows the run as it goes, not only when a command ends.
    connect(controller_, &SessionController::recordsAppended, this, &MainWindow::updateTitle);
    connect(controller_, &SessionController::observedChanged, plots_, &PlotPanel::rebuildAll);
    connect(controller_, &SessionController::viewStepChanged, this, [this](qint64 step) {
        steps_->setTimeline(controller_->traces().base_step(), controller_->lastStep(), step);
        plots_->setViewStep(step);
    });
    connect(controller_, &SessionController::failed, this, &MainWindow::onFailed);
    connect(controller_, &SessionController::runsChanged, this, &MainWindow::updatePlotRuns);
    // Stepping on from an earlier step, or intervening, starts a branch: the run it left keeps its steps.
    connect(controller_, &SessionController::branched, this, [this](int run, int parent, qint64 step) {
        steps_->clearProgress();
        const RunTree& runs = controller_->runs();
        const Run* branch = runs.find(run);
        const Run* from = runs.find(parent);
        if (!branch || !from) return;
        branch_note_ = tr("Branched at step %1: %2 keeps its steps to %3")
                           .arg(QLocale().toString(step), runs.name(*from).section(':', 0, 0),
                                QLocale().toString(qlonglong(from->last_step())));
        showStatus(branch_note_);
        if (branch->spec.interventions.size() > from->spec.interventions.size()) {
            clearError();
            plots_->showView(plots_->divergence());
            updateIntervenePanel();
        }
    });
    connect(controller_, &SessionController::stepsFinished, this,
            [this](qint64 done, bool cancelled, const QString& error) {
                const QString note = std::exchange(branch_note_, {});
                const QString lead = note.isEmpty() ? QString() : note + QStringLiteral(". ");
                if (error.isEmpty() && done > 0) clearError();
                if (!error.isEmpty()) showError(lead + tr("Stopped after %1 steps: %2").arg(done).arg(error));
                else if (cancelled && pausing_) {
                    showStatus(lead + tr("Paused at step %1").arg(controller_->lastStep()));
                    steps_->showPaused(controller_->lastStep());
                } else if (cancelled) showStatus(lead + tr("Cancelled after %1 steps").arg(done));
                else if (done > 0 && !controller_->playing())
                    showStatus(lead + tr("Stepped %1; now at step %2").arg(done).arg(controller_->lastStep()));
                pausing_ = false;
                updateTitle();
            });
    connect(controller_, &SessionController::snapshotSaved, this,
            [this](const QString& path) { showStatus(tr("Saved snapshot %1").arg(path)); });
    connect(plots_, &PlotPanel::observedChanged, controller_, &SessionController::setObserved);
    connect(plots_, &PlotPanel::message, this, &MainWindow::showStatus);
    connect(session_io_, &SessionIO::sessionOpened, this, &MainWindow::addRecent);
    connect(session_io_, &SessionIO::sessionSaved, this, &MainWindow::addRecent);
    // A snapshot joins Open recent once its run opens, not when it was only chosen.
    connect(export_, &ExportController::snapshotOpened, this, [this](const QString& path) { pending_recent_ = path; });
    connect(plots_, &PlotPanel::observationChanged, controller_, &SessionController::setObservation);
    // Views on demand: what the views shown lack is computed in the worker, with progress and Cancel.
    connect(plots_, &PlotPanel::viewsWanted, controller_, &SessionController::recomputeViews);
    connect(plots_, &PlotPanel::viewsCancelRequested, controller_, &SessionController::cancelViews);
    connect(plots_, &PlotPanel::viewsComputeRequested, controller_, &SessionController::computeViewsAgain);
    connect(controller_, &SessionController::viewsStarted, plots_, &PlotPanel::viewsStarted);
    connect(controller_, &SessionController::viewsProgress, plots_, &PlotPanel::viewsProgress);
    connect(controller_, &SessionController::viewsRecomputed, plots_, &PlotPanel::viewsRecomputed);
    connect(controller_, &SessionController::viewsFailed, plots_, &PlotPanel::viewsFailed);
    // The branch is a run of its own; the run it left stays in the tree and on the plots.
    connect(intervene_, &IntervenePanel::interveneRequested, controller_, &SessionController::intervene);
    connect(intervene_, &IntervenePanel::originalRequested, controller_, &SessionController::clearInterventions);
    connect(controller_, &SessionController::viewStepChanged, this, &MainWindow::updateIntervenePanel);
    connect(controller_, &SessionController::observedChanged, this, &MainWindow::updateIntervenePanel);
    connect(export_, &ExportController::done, this, &MainWindow::clearError);
    connect(session_io_, &SessionIO::done, this, &MainWindow::clearError);
    for (QObject* source : {static_cast<QObject*>(export_), static_cast<QObject*>(session_io_)}) {
        connect(source, SIGNAL(done(QString)), this, SLOT(showStatus(QString)));
        connect(source, SIGNAL(failed(QString)), this, SLOT(showError(QString)));
    }

    model_->setConfig(spec.config);
    model_->setWeightsSeed(spec.weights_seed);
    input_->fill(spec);
    steps_->setHasRun(false);
    updateTitle();
    if (open) controller_->open(spec);
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus() {
    // The actions the panels made for their commands, then the window's own.
    QHash<int, QAction*> actions;
    for (QAction* action : findChildren<QAction*>())
        if (action_command(action) >= 0) actions.insert(action_command(action), action);
    QHash<const char*, QMenu*> menus;
    for (const WindowCommand& command : window_commands()) {
        if (!command.menu) continue;
        QMenu*& menu = menus[command.menu];
        if (!menu) menu = menuBar()->addMenu(QCoreApplication::translate("WindowCommand", command.menu));
        if (command.group_start) menu->addSeparator();
        QAction* action = actions.value(int(command.id));
        if (!action) action = windowAction(command.id);
        menu->addAction(action);
    }
}

QAction* MainWindow::windowAction(CommandId id) {
    if (id == CommandId::OpenRecent) {
        recent_menu_ = new QMenu(command_text(window_command(id)), this);
        updateRecentMenu();
        mark_action(recent_menu_->menuAction(), id);
        return recent_menu_->menuAction();
    }
    if (id == CommandId::OpenDemo) {
        QAction* demos = demoMenu()->menuAction();
        mark_action(demos, id);
        return demos;
    }
    QAction* action = make_action(id, this);
    switch (id) {
        case CommandId::LoadWeights:
            connect(action, &QAction::triggered, model_, &ModelPanel::loadWeightsRequested);
            break;
        case CommandId::CompareModels: connect(action, &QAction::triggered, this, &MainWindow::showCompareView); break;
        case CommandId::Quit: connect(action, &QAction::triggered, this, &QWidget::close); break;
        case CommandId::Apply:
            // The menu item carries the shortcut, so the menu shows it; the Apply button does the same.
            connect(action, &QAction::triggered, this, &MainWindow::applyForms);
            connect(model_, &ModelPanel::validityChanged, action, &QAction::setEnabled);
            break;
        case CommandId::ShowRun: connect(action, &QAction::triggered, this, &MainWindow::pinRun); break;
        case CommandId::DeleteRun:
            connect(action, &QAction::triggered, this, [this] { runs_pane_->deleteRun(controller_->viewedRun()); });
            break;
        case CommandId::Intervene: connect(action, &QAction::triggered, this, &MainWindow::showIntervenePanel); break;
        case CommandId::Usage: connect(action, &QAction::triggered, this, &MainWindow::showUsage); break;
        case CommandId::Shortcuts: connect(action, &QAction::triggered, this, &MainWindow::showShortcuts); break;
        case CommandId::About:
            connect(action, &QAction::triggered, this, [this] {
                QMessageBox::about(this, tr("About Stepscope"),
                                   tr("Stepscope %1\nStep recurrent transformers one element at a time and watch "
                                      "their state.\nA C++ rebuild of fast-transformers' recurrent encoders and "
                                      "decoders.\n\nUsage: %2")
                                       .arg(QApplication::applicationVersion(), readme_url().toString()));
            });
            break;
        default:
            // A menu command whose panel made no action: a table row without its code.
            qFatal("no action for window command %d", int(id));
    }
    return action;
}

QMenu* MainWindow::demoMenu() {
    auto* demos = new QMenu(command_text(window_command(CommandId::OpenDemo)), this);
    demos->setToolTipsVisible(true);
    const QList<DemoModel> shipped = demo_models();
    for (const DemoModel& demo : shipped) {
        QAction* action = demos->addAction(QStringLiteral("%1 — %2").arg(demo.name, demo.description));
        action->setToolTip(demo.path);
        connect(action, &QAction::triggered, this, [this, path = demo.path] { loadWeights(path); });
    }
    demos->setEnabled(!shipped.isEmpty());
    if (shipped.isEmpty()) demos->setToolTip(tr("No demo models found beside the binary or in the source tree"));
    return demos;
}

void MainWindow::showShortcuts() {
    QString html = QStringLiteral("<table cellspacing=\"2\" cellpadding=\"2\">");
    for (const auto& [key, what] : shortcutList())
        html += QStringLiteral("<tr><td><b>%1</b></td><td>&nbsp;&nbsp;%2</td></tr>")
                    .arg(key.toHtmlEscaped(), what.toHtmlEscaped());
    html += QStringLiteral("</table><p>") +
            tr("On a plot: drag to pan and wheel to zoom the steps (with Ctrl: both axes), double-click to follow "
               "the data again, click a legend entry to hide or show its curve, right-click to copy, save or reset "
               "the view.") +
            QStringLiteral("</p>");
    QMessageBox box(QMessageBox::Information, tr("Keyboard shortcuts"), html, QMessageBox::Ok, this);
    box.setTextFormat(Qt::RichText);
    box.exec();
}

QList<QPair<QString, QString>> MainWindow::shortcutList() const { return shortcut_rows(); }

QString MainWindow::usageMarkdown() {
    QString text;
    for (const QString& path : {readme_path(), QStringLiteral(":/README.md")}) {
        if (path.isEmpty()) continue;
        QFile file(path);
        if (file.open(QIODevice::ReadOnly | QIODevice::Text)) {
            text = QString::fromUtf8(file.readAll());
            break;
        }
    }
    // From "## Usage" to the next section of that level.
    const int start = text.indexOf(QStringLiteral("\n## Usage"));
    if (start < 0) return text;
    const int end = text.indexOf(QStringLiteral("\n## "), start + 9);
    return text.mid(start + 1, end < 0 ? -1 : end - start - 1);
}

void MainWindow::showUsage() {
    // Shown here, from the installed docs: no browser is needed, and it is the build's own text.
    auto* dialog = new QDialog(this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setObjectName(QStringLiteral("usageWindow"));
    dialog->setWindowTitle(tr("Stepscope usage"));
    auto* browser = new QTextBrowser;
    browser->setOpenExternalLinks(true);
    const QString path = readme_path();
    if (!path.isEmpty()) browser->setSearchPaths({QFileInfo(path).absolutePath()});
    browser->setMarkdown(usageMarkdown());
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::close);
    auto* layout = new QVBoxLayout(dialog);
    layout->addWidget(browser);
    layout->addWidget(buttons);
    dialog->resize(std::min(900, width() - 40), std::min(700, height() - 40));
    dialog->show();
}

bool MainWindow::mayDiscardRun(const QString& action) {
    if (!controller_->hasUnsavedWork()) return true;
    int unsaved = 0;
    for (const auto& run : controller_->runs().runs()) unsaved += !run->saved() && run->traces->own_size() > 0;
    const QString runs = unsaved == 1 ? tr("1 run holds") : tr("%1 runs hold").arg(unsaved);
    const QString text = tr("%1 steps that are in no session file. Save the session before %2?").arg(runs, action);
    QMessageBox::StandardButton answer;
    if (ask_discard_) {
        answer = ask_discard_(text);
    } else {
        QMessageBox box(QMessageBox::Warning, tr("Unsaved run"), text,
                        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, this);
        box.setInformativeText(tr("A session reproduces every run exactly; Discard loses their steps."));
        box.setDefaultButton(QMessageBox::Save);
        answer = QMessageBox::StandardButton(box.exec());
    }
    if (answer == QMessageBox::Discard) return true;
    if (answer != QMessageBox::Save) return false;
    // Save session asks for the file; cancelling that dialog keeps the run as well.
    session_io_->saveAction()->trigger();
    return !controller_->hasUnsavedWork();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (mayDiscardRun(tr("quitting"))) event->accept();
    else event->ignore();
}

QStringList MainWindow::recentFiles() const { return QSettings().value(kRecentKey).toStringList(); }

void MainWindow::addRecent(const QString& path) {
    QStringList recent = recentFiles();
    const QString absolute = QFileInfo(path).absoluteFilePath();
    recent.removeAll(absolute);
    recent.prepend(absolute);
    while (recent.size() > kMaxRecent) recent.removeLast();
    QSettings().setValue(kRecentKey, recent);
    updateRecentMenu();
}

void MainWindow::updateRecentMenu() {
    recent_menu_->clear();
    const QStringList recent = recentFiles();
    for (const QString& path : recent) {
        QAction* action = recent_menu_->addAction(QFileInfo(path).dir().dirName() + "/" + QFileInfo(path).fileName());
        action->setToolTip(path);
        connect(action, &QAction::triggered, this, [this, path] { openFile(path); });
    }
    recent_menu_->setToolTipsVisible(true);
    recent_menu_->setEnabled(!recent.isEmpty());
    if (recent.isEmpty()) return;
    recent_menu_->addSeparator();
    connect(recent_menu_->addAction(tr("Clear list")), &QAction::triggered, this, [this] {
        QSettings().remove(kRecentKey);
        updateRecentMenu();
    });
}

bool MainWindow::openFile(const QString& path) {
    if (!QFileInfo(path).isFile()) {
        showError(tr("%1: no such file").arg(path));
        return false;
    }
    // Opening a model, snapshot or session adds runs: the runs there are stay.
    const FileKind kind = file_kind(path);
    // A file joins Open recent once it opened (onRunOpened, sessionOpened), never when it failed.
    switch (kind) {
        case FileKind::Model: loadWeights(path); return true;
        case FileKind::Snapshot:
            pending_recent_ = path;
            controller_->openSnapshot(path);
            return true;
        case FileKind::Session: session_io_->openSession(path); return true;
        case FileKind::Input: {
            pending_recent_ = path;
            SessionSpec spec = controller_->hasRun() ? controller_->spec() : SessionSpec{};
            spec.input.kind = InputKind::File;
            spec.input.path = path;
            spec.snapshot_path.clear();
            spec.steps = 0;
            input_->fill(spec);
            if (!applyForms()) {
                pending_recent_.clear();
                return false;
            }
            return true;
        }
        case FileKind::Unknown:
            showError(tr("%1: not a Stepscope model, snapshot, session (.json) or input (.csv)").arg(path));
            return false;
    }
    return true;
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.size() == 1 && urls.first().isLocalFile() && file_kind(urls.first().toLocalFile()) != FileKind::Unknown)
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.isEmpty() || !urls.first().isLocalFile()) return;
    event->acceptProposedAction();
    openFile(urls.first().toLocalFile());
}

QString MainWindow::errorText() const { return banner_->isHidden() ? QString() : last_error_; }

bool MainWindow::applyForms() {
    // The bar tells of the last command only: a new run starts without it.
    steps_->clearProgress();
    const auto config = model_->config();
    if (!config) {
        showError(tr("The model form has an error: %1").arg(model_->firstError()));
        return false;
    }
    SessionSpec spec = controller_->hasRun() ? controller_->spec() : SessionSpec{};
    spec.config = *config;
    spec.weights_seed = model_->weightsSeed();
    spec.device = model_->device();
    // A weights file stays only while the form still describes its model (at any precision).
    spec.weights_path =
        weights_config_ && architecture_difference(*config, *weights_config_).empty() ? weights_path_ : QString();
    spec.snapshot_path.clear();
    spec.steps = 0;
    // A new model starts clean: the viewed run's interventions are about another model.
    spec.interventions.clear();
    if (!input_->apply(spec)) {
        showError(tr("The input form is incomplete: see the message under it."));
        return false;
    }
    controller_->open(spec);
    return true;
}

void MainWindow::pinRun() {
    if (!controller_->hasRun()) return;
    controller_->setRunVisible(controller_->viewedRun(), true);
    showStatus(
        tr("%1 stays drawn when another run is viewed")
            .arg(controller_->runs().name(*controller_->runs().find(controller_->viewedRun())).section(':', 0, 0)));
}

void MainWindow::updatePlotRuns() {
    const RunTree& runs = controller_->runs();
    const Run* viewed = runs.find(controller_->viewedRun());
    std::vector<RunOverlay> others;
    const QString viewed_name = viewed ? runs.name(*viewed) : QString();
    QList<QPair<const void*, QString>> key{{viewed ? viewed->traces.get() : nullptr, viewed_name}};
    for (const auto& run : runs.runs()) {
        if (run.get() == viewed || !run->visible) continue;
        others.push_back(
            {run->traces.get(), runs.name(*run), QColor(run->color), viewed && run->id == viewed->parent, run->id});
        key.append({run->traces.get(), run->color + QString::number(run->last_step()) + runs.name(*run)});
    }
    if (key == plotted_runs_) return;
    plotted_runs_ = key;
    plots_->setRuns(viewed ? viewed->traces.get() : nullptr, std::move(others), viewed_name);
}

void MainWindow::loadWeights(const QString& path, int pairs) {
    steps_->clearProgress();
    SessionSpec spec = controller_->hasRun() ? controller_->spec() : SessionSpec{};
    input_->apply(spec);
    int64_t steps = 0;
    // The form shows the file's model at once, so a refusal of the input is not a dead end. A
    // damaged file goes to the engine as it is: its message names what is wrong.
    try {
        const auto metadata = safetensors_metadata(path);
        // A token model takes tokens: a fresh task instance or a prompt, unless tokens were chosen already.
        if (is_token_model(metadata) &&
            (pairs > 0 || spec.input.kind != InputKind::Tokens || spec.weights_path != path))
            spec.input = default_token_input(metadata, spec.input);
        if (pairs > 0 && spec.input.pairs > 0) {
            spec.input.pairs = pairs;
            steps = recall_instance_steps(metadata, pairs);
        }
        const auto text = metadata.find("config");
        if (text != metadata.end()) {
            spec.config = config_from_json(text->second);
            model_->setConfig(spec.config);
            weights_path_ = path;
            weights_config_ = spec.config;
        }
    } catch (const std::exception&) {
    }
    // A CSV holds rows of values, not a shape: under a model of another width that divides them the
    // same file reads as another batch, a different sequence. Said, with the way out, once it opens.
    pending_warning_.clear();
    if (controller_->hasRun() && spec.input.kind == InputKind::File &&
        QFileInfo(spec.input.path).suffix().compare(QStringLiteral("csv"), Qt::CaseInsensitive) == 0) {
        const RunInfo& info = controller_->traces().info();
        const int old_width = info.model->config().d_model(), new_width = spec.config.d_model();
        const long columns = long(info.batch) * old_width;
        if (new_width != old_width && new_width > 0 && columns % new_width == 0)
            pending_warning_ = tr("The input %1 has rows of %2 values: this model reads them as batch %3 of width "
                                  "%4, not batch %5 of width %6 as before, so the sequence is another.")
                                   .arg(QFileInfo(spec.input.path).fileName())
                                   .arg(columns)
                                   .arg(columns / new_width)
                                   .arg(new_width)
                                   .arg(info.batch)
                                   .arg(old_width);
    }
    spec.weights_path = path;
    spec.snapshot_path.clear();
    spec.steps = steps;
    controller_->open(spec);
}

void MainWindow::switchInputToFeedback() {
    SessionSpec spec = controller_->hasRun() ? controller_->spec() : SessionSpec{};
    input_->apply(spec);
    spec.input.kind = InputKind::Feedback;
    input_->fill(spec);
    applyForms();
}

void MainWindow::showError(const QString& message) {
    last_error_ = message;
    banner_->setText(QStringLiteral("%1 &nbsp; <a href=\"dismiss\">dismiss</a>").arg(message.toHtmlEscaped()));
    banner_->setVisible(true);
    error_context_.clear();
    placeBanner();
    statusBar()->showMessage(message, 8000);
}

void MainWindow::showStatus(const QString& message) { statusBar()->showMessage(message, 8000); }

void MainWindow::clearError() {
    banner_->setVisible(false);
    error_context_.clear();
}

void MainWindow::placeBanner() {
    if (banner_->isHidden()) return;
    const int width = plots_->width() - 16;
    const int height = banner_->heightForWidth(width);
    banner_->setGeometry(plots_->x() + 8, plots_->y() + 2, width, height > 0 ? height : banner_->sizeHint().height());
    banner_->raise();
}

bool MainWindow::eventFilter(QObject* watched, QEvent* event) {
    if (watched == plots_ && (event->type() == QEvent::Resize || event->type() == QEvent::Move)) placeBanner();
    return QMainWindow::eventFilter(watched, event);
}

void MainWindow::onRunOpened() {
    plotted_runs_.clear();
    updatePlotRuns();
    if (!controller_->hasRun()) {
        steps_->setHasRun(false);
        updateTitle();
        return;
    }
    const SessionSpec spec = controller_->spec();
    const RunInfo& info = controller_->traces().info();
    model_->setConfig(spec.config);
    model_->setWeightsSeed(spec.weights_seed);
    model_->setDevice(spec.device);
    // Every golden case's weights are called model.safetensors: the folder tells them apart.
    const QFileInfo weights(spec.weights_path);
    model_->setWeightsSource(spec.weights_path.isEmpty() ? info.weights
                                                         : weights.dir().dirName() + "/" + weights.fileName(),
                             spec.weights_path.isEmpty() ? QString() : weights.absoluteFilePath());
    if (!spec.weights_path.isEmpty()) addRecent(spec.weights_path);
    if (info.tokens && info.tokens->task_name() == "recall" && !spec.weights_path.isEmpty())
        compare_->addModel(spec.weights_path);
    const QString pending = std::exchange(pending_recent_, {});
    const QString opened = QFileInfo(pending).absoluteFilePath();
    if (!pending.isEmpty() &&
        (QFileInfo(spec.snapshot_path).absoluteFilePath() == opened ||
         (spec.input.kind == InputKind::File && QFileInfo(spec.input.path).absoluteFilePath() == opened)))
        addRecent(pending);
    input_->setTokenModel(bool(info.tokens));
    input_->fill(spec);
    weights_path_ = spec.weights_path;
    weights_config_ = spec.weights_path.isEmpty() ? std::nullopt : std::optional<ModelConfig>(spec.config);
    steps_->setHasRun(true);
    steps_->clearProgress();
    steps_->setTimeline(controller_->traces().base_step(), controller_->lastStep(), controller_->viewStep());
    updateIntervenePanel();
    if (info.tokens) plots_->showView(plots_->tokens());
    clearError();
    if (const QString warning = std::exchange(pending_warning_, {}); !warning.isEmpty()) {
        showError(warning);
        banner_->setText(QStringLiteral("%1 &nbsp; <a href=\"%2\">%3</a> &nbsp; <a href=\"dismiss\">%4</a>")
                             .arg(warning.toHtmlEscaped(), kSwitchInputLink,
                                  tr("use the model's fed-back output as input"), tr("dismiss")));
        placeBanner();
        updateTitle();
        return;
    }
    const Run* viewed = controller_->runs().find(controller_->viewedRun());
    if (!controller_->traces().empty())
        showStatus(tr("Viewing %1: the steps go to it").arg(controller_->runs().name(*viewed)));
    else
        showStatus(info.base_step > 0 ? tr("Continuing from the snapshot at step %1").arg(info.base_step)
                                      : tr("New run: %1")
                                            .arg(controller_->runs().name(*viewed).section(':', 0, 0) +
                                                 QStringLiteral(", ") + info.label));
    updateTitle();
}

void MainWindow::onFailed(const QString& context, const QString& message) {
    pending_recent_.clear();
    pending_warning_.clear();
    const QString kept = tr(" The previous run is unchanged.");
    if (context == QLatin1String("model")) {
        model_->showEngineError(Error(message.toStdString()));
        showError(tr("Model not built: %1.").arg(message) + kept);
    } else if (context == QLatin1String("weights")) {
        // The form goes back to the model that still runs.
        if (controller_->hasRun()) {
            const SessionSpec spec = controller_->spec();
            model_->setConfig(spec.config);
            weights_path_ = spec.weights_path;
            weights_config_ = spec.weights_path.isEmpty() ? std::nullopt : std::optional<ModelConfig>(spec.config);
        }
        showError(tr("Weights not loaded: %1.").arg(message) + kept);
    } else if (context == QLatin1String("input")) {
        input_->showError(message);
        showError(tr("Input refused: %1.").arg(message) + kept);
        // After a new model, an input file of the old width is the usual cause: offer the way out.
        if (!weights_path_.isEmpty() && weights_path_ != controller_->spec().weights_path)
            banner_->setText(QStringLiteral("%1 &nbsp; <a href=\"%2\">%3</a> &nbsp; <a href=\"dismiss\">%4</a>")
                                 .arg(last_error_.toHtmlEscaped(), kSwitchInputLink,
                                      tr("use the model's fed-back output as input"), tr("dismiss")));
        placeBanner();
    } else if (context == QLatin1String("device")) {
        showError(tr("Device refused: %1.").arg(message) + kept);
    } else if (context == QLatin1String("intervention")) {
        showError(tr("Intervention refused: %1.").arg(message) + tr(" The run is unchanged."));
    } else if (context == QLatin1String("snapshot")) {
        showError(tr("Snapshot: %1.").arg(message) + kept);
    } else {
        showError(message);
    }
    error_context_ = context;
}

void MainWindow::showIntervenePanel() { plots_->showView(intervene_); }

void MainWindow::showCompareView() {
    compare_->show();
    compare_->raise();
    compare_->activateWindow();
}

void MainWindow::updateIntervenePanel() {
    intervene_->setRun(controller_->traces(), controller_->viewStep(), controller_->spec().interventions);
}

void MainWindow::updateTitle() {
    if (!controller_->hasRun()) {
        setWindowTitle(tr("Stepscope"));
        run_label_->setText(tr("building the model…"));
        return;
    }
    const RunInfo& info = controller_->traces().info();
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
                            .arg(controller_->lastStep()));
}

}  // namespace stepscope::ui
