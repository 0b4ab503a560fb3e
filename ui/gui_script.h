// Command-line actions for the window (--steps, --set, --apply, --scrub, --intervene, --select-run, --save-session,
// --screenshot ...): scripted demos, tests and the README screenshot.
//
//   stepscope --steps 200 --pin --set attention_type=full --steps 200 --screenshot shot.png
//
// Each action waits for the engine to finish the one before; --set edits the form as a user would,
// and the form is applied before the next action that needs the run.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QSize>
#include <QStringList>
#include <QTimer>

#include <functional>
#include <optional>
#include <vector>

#include "session/intervention_spec.h"
#include "session/run_tree.h"
#include "session/session_spec.h"
#include "window_commands.h"

namespace stepscope::ui {

class MainWindow;

// One scripted flag: the command it runs (window_commands.h) and its value.
struct GuiAction {
    CommandId command = CommandId::StepMany;
    qint64 count = 0;  // StepMany: the steps; Scrub: the step; State: the StatePlot::Quantity
    QString key;       // Set: the field; Attention: the role
    // Set: the field text; Screenshot, SaveSession: the file; View: the view; Band: the band; Attention:
    // "layer:head"; State: the layer; SelectRun: the run's name
    QString value;
    Intervention intervention;  // Intervene
    bool whole_run = false;     // Intervene
};

// --intervene's value: ablate:L:H, ablate-all:L:H, scale:L:H:F, zero:L:H, clear:L, clear-head:L:H, copy:L or
// input:N:I:V.
// Throws stepscope::Error naming what is wrong.
GuiAction parse_intervention(const QString& text);

struct GuiOptions {
    std::optional<SessionSpec> spec;  // --session or --config; the seed example otherwise
    std::optional<SessionTree> tree;  // --session: every run of the file
    QString open_file;                // stepscope FILE: a session, snapshot, model or CSV input
    std::vector<GuiAction> actions;
    bool help = false;
    QSize window_size;               // --window-size; invalid: the default
    bool report_throughput = false;  // --report-throughput
    // True when the script ends the application (it took a screenshot or saved a session).
    bool quits() const;
};

// `stepscope --help` for the window: its launch options, then the scripted flags of the command table.
QString gui_usage();

// Throws stepscope::Error with a one-line message for a bad command line or an unreadable file.
GuiOptions parse_gui_arguments(const QStringList& arguments);

class GuiScript : public QObject {
    Q_OBJECT

public:
    GuiScript(MainWindow* window, std::vector<GuiAction> actions, bool quit_at_end, bool report_throughput = false);
    // Runs the actions once the first run is open.
    void start();

private:
    void next();
    void whenIdle();
    // A new run of the forms, then the next action once it is open; a refused form ends the script with 1.
    void applyForms();
    // Goes on once the Compare-models view has evaluated every model it lists.
    void waitForComparison();
    void screenshot(const QString& path);
    // Calls `then` once the views shown lack nothing that is being computed for them (views on demand).
    void whenViewsComputed(const std::function<void()>& then);
    // --report-throughput: starts timing a --steps action; report() prints what it measured.
    void measure(qint64 steps);
    void report();

    MainWindow* window_;
    QWidget* shot_ = nullptr;  // what --screenshot saves instead of the main window (the Compare-models window)
    std::vector<GuiAction> actions_;
    size_t position_ = 0;
    bool form_changed_ = false;
    bool quit_at_end_;
    bool waiting_ = false;
    bool refused_ = false;  // an action was refused (printed): the script exits 2
    // While a --steps action is timed: its steps, the plots' frames before it, and a heartbeat whose
    // late ticks measure how long the event loop could not answer input.
    bool report_throughput_;
    qint64 measured_steps_ = 0;
    qint64 measured_from_ = 0;  // the step the timed --steps started from
    int frames_before_ = 0;
    QElapsedTimer clock_, since_tick_;
    QTimer heartbeat_;
    qint64 longest_stall_ms_ = 0;
};

}  // namespace stepscope::ui
