// Scripted window actions, each started when the engine is idle, for demos and the README screenshot.
#include "gui_script.h"

#include <QApplication>
#include <QFileInfo>
#include <QPixmap>
#include <QSaveFile>
#include <QScreen>
#include <QTimer>
#include <QWindow>

#include <cmath>
#include <cstdio>

#include "intervene_panel.h"
#include "main_window.h"
#include "model_panel.h"
#include "plots/attention_plot.h"
#include "plots/capacity_plot.h"
#include "plots/divergence_plot.h"
#include "plots/head_grid_plot.h"
#include "plots/performance_plot.h"
#include "plots/plot_panel.h"
#include "plots/spectrum_plot.h"
#include "plots/state_plot.h"
#include "plots/compare_view.h"
#include "plots/token_view.h"
#include "plots/view_list.h"
#include "session/session_controller.h"
#include "session_io.h"
#include "stepscope/error.h"

namespace stepscope::ui {

QString gui_usage() {
    return QStringLiteral(
               "usage: stepscope [FILE | --session FILE | --config FILE] [--steps N] [--set KEY=VALUE] [--apply]\n"
               "                 [--scrub STEP] [--select-run NAME] [--save-session FILE] [--screenshot FILE] ...\n"
               "  Opens the explorer on the seed example, a session (every run of it) or a builder config, or FILE\n"
               "  by what it is (a session, snapshot, model or CSV input), then runs the actions in order; a refused\n"
               "  action ends the script with exit code 2 (a refused form: 1). With --screenshot or --save-session\n"
               "  the window quits when the actions are done.\n"
               "  --window-size WxH    the window's size (a screenshot's default is 1600x1000)\n"
               "  --report-throughput after each --steps, print its steps per second, the plots' redraws per\n"
               "                      second and the longest time the window could not answer input\n"
               "Actions, each the same as its menu command where it has one:\n") +
           scripted_flags_usage();
}

namespace {
Error usage(const QString& message) { return Error(message.toStdString()); }
QString quoted(const QString& untrusted) { return QString::fromStdString(quote_text(untrusted.toStdString())); }
// The plots redraw on a timer and the window system needs a moment to show them.
constexpr int kSettleMs = 400;
// The heartbeat that measures event-loop stalls: input waits at most a tick plus the stall.
constexpr int kHeartbeatMs = 10;
}  // namespace

GuiAction parse_intervention(const QString& text) {
    const QStringList parts = text.split(':');
    const QString what = parts.value(0);
    if (what == "token") {
        // token:N:TEXT, where TEXT (one step) may itself hold a colon.
        bool ok = false;
        const int element = parts.value(1).toInt(&ok);
        const QString tokens = text.section(':', 2);
        if (!ok || element < 0 || tokens.isEmpty())
            throw usage(
                QStringLiteral("--intervene token:N:TEXT needs a batch element and a step, got %1").arg(quoted(text)));
        GuiAction action;
        action.command = CommandId::Intervene;
        action.intervention.kind = InterventionKind::EditToken;
        action.intervention.element = element;
        action.intervention.tokens = tokens;
        return action;
    }
    const int arity = what == "scale" || what == "input" ? 3 : (what == "clear" || what == "copy" ? 1 : 2);
    const QStringList kinds{"ablate", "ablate-all", "scale", "zero", "clear", "clear-head", "copy", "input"};
    if (!kinds.contains(what) || parts.size() != arity + 1)
        throw usage(QStringLiteral("--intervene takes ablate:L:H, ablate-all:L:H, scale:L:H:F, zero:L:H, clear:L, "
                                   "clear-head:L:H, copy:L, input:N:I:V or token:N:TEXT, got %1")
                        .arg(quoted(text)));
    std::vector<double> numbers;
    for (int i = 1; i < parts.size(); ++i) {
        bool ok = false;
        const double number = parts[i].toDouble(&ok);
        // scale's factor and input's value are float32 numbers; the rest are indices.
        const bool whole = i < 3 || (what != "scale" && what != "input");
        if (!ok || !std::isfinite(static_cast<float>(number)) ||
            (whole && (number < 0 || number != std::floor(number) || number > 1e6)))
            throw usage(
                QStringLiteral("--intervene %1: %2 is not a %3")
                    .arg(quoted(text), quoted(parts[i]),
                         whole ? QStringLiteral("whole number from 0") : QStringLiteral("finite float32 number")));
        numbers.push_back(number);
    }
    GuiAction action;
    action.command = CommandId::Intervene;
    Intervention& i = action.intervention;
    if (what == "input") {
        i.kind = InterventionKind::EditInput;
        i.element = int(numbers[0]);
        i.index = int(numbers[1]);
        i.value = numbers[2];
        return action;
    }
    i.layer = int(numbers[0]);
    if (numbers.size() > 1) i.head = int(numbers[1]);
    if (what == "ablate" || what == "ablate-all") i.kind = InterventionKind::AblateHead;
    else if (what == "scale" || what == "zero") i.kind = InterventionKind::ScaleHead;
    else if (what == "clear") i.kind = InterventionKind::ClearLayer;
    else if (what == "clear-head") i.kind = InterventionKind::ClearHeadCache;
    else i.kind = InterventionKind::CopyFromOriginal;
    if (what == "scale") i.factor = numbers[2];
    action.whole_run = what == "ablate-all";
    return action;
}

bool GuiOptions::quits() const {
    for (const GuiAction& a : actions)
        if (a.command == CommandId::Screenshot || a.command == CommandId::SaveSession) return true;
    return false;
}

namespace {
// Checks a scripted flag's value and reads it into `action`.
GuiAction read_action(const WindowCommand& command, const QString& text) {
    GuiAction action;
    action.command = command.id;
    action.value = text;
    switch (command.id) {
        case CommandId::StepMany: {
            bool ok = false;
            action.count = text.toLongLong(&ok);
            if (!ok || action.count < 1 || action.count > 10000000)
                throw usage(QStringLiteral("--steps must be an integer from 1 to 10000000, got %1").arg(quoted(text)));
            break;
        }
        case CommandId::Set: {
            const int equals = text.indexOf('=');
            if (equals <= 0) throw usage(QStringLiteral("--set needs KEY=VALUE, got %1").arg(quoted(text)));
            action.key = text.left(equals);
            action.value = text.mid(equals + 1);
            break;
        }
        case CommandId::Scrub: {
            bool ok = false;
            action.count = text.toLongLong(&ok);
            if (!ok || action.count < 0)
                throw usage(QStringLiteral("--scrub needs a step from 0 on, got %1").arg(quoted(text)));
            break;
        }
        case CommandId::View: {
            // The compare view is a window of its own, not one of the panel's views.
            const QStringList names = view_names() << QStringLiteral("compare");
            if (!names.contains(text))
                throw usage(QStringLiteral("--view is %1, not one of: %2").arg(quoted(text), names.join(", ")));
            break;
        }
        case CommandId::Band:
            if (!QStringList{"element", "minmax", "std"}.contains(text))
                throw usage(QStringLiteral("--band is %1, not one of: element, minmax, std").arg(quoted(text)));
            break;
        case CommandId::Attention: {
            const QStringList parts = text.split(':');
            bool layer_ok = false, head_ok = false;
            if (parts.size() == 3) {
                parts[1].toInt(&layer_ok);
                parts[2].toInt(&head_ok);
            }
            if (!layer_ok || !head_ok || (parts[0] != "self" && parts[0] != "cross"))
                throw usage(QStringLiteral("--attention takes self:L:H or cross:L:H, got %1").arg(quoted(text)));
            action.key = parts[0];
            action.value = parts[1] + ':' + parts[2];
            break;
        }
        case CommandId::State: {
            static const QStringList quantities = {"S", "Z", "cache", "beta", "alpha", "prediction-error"};
            const QStringList parts = text.split(':');
            bool layer_ok = false;
            if (parts.size() == 2) parts[1].toInt(&layer_ok);
            if (!layer_ok || !quantities.contains(parts[0]))
                throw usage(QStringLiteral("--state takes Q:L with Q one of %1, got %2")
                                .arg(quantities.join(", "), quoted(text)));
            action.count = quantities.indexOf(parts[0]);
            action.value = parts[1];
            break;
        }
        case CommandId::Intervene: return parse_intervention(text);
        default: break;
    }
    return action;
}
}  // namespace

GuiOptions parse_gui_arguments(const QStringList& arguments) {
    GuiOptions options;
    for (int i = 0; i < arguments.size(); ++i) {
        const QString& word = arguments[i];
        auto value = [&]() -> QString {
            if (i + 1 >= arguments.size()) throw usage(QStringLiteral("option %1 needs a value").arg(word));
            return arguments[++i];
        };
        if (word == "--help" || word == "-h") {
            options.help = true;
        } else if (word == "--session" || word == "--config") {
            if (options.spec || !options.open_file.isEmpty())
                throw usage(QStringLiteral("give one FILE, --session or --config"));
            const QString path = value();
            options.tree = tree_from_file(path);
            options.spec = options.tree->viewed_spec();
            if (word == "--config") options.tree.reset();
        } else if (word == "--window-size") {
            const QString text = value();
            const QStringList parts = text.split('x');
            const int width = parts.value(0).toInt(), height = parts.value(1).toInt();
            if (parts.size() != 2 || width < 320 || height < 240 || width > 8192 || height > 8192)
                throw usage(QStringLiteral("--window-size needs WIDTHxHEIGHT from 320x240 to 8192x8192, got %1")
                                .arg(quoted(text)));
            options.window_size = QSize(width, height);
        } else if (word == "--report-throughput") {
            options.report_throughput = true;
        } else if (const WindowCommand* command = command_for_flag(word)) {
            options.actions.push_back(read_action(*command, command->value ? value() : QString()));
        } else if (!word.startsWith(QLatin1String("-")) && options.open_file.isEmpty() && !options.spec) {
            options.open_file = word;
        } else {
            throw usage(QStringLiteral("unknown argument %1 (see stepscope --help)").arg(quoted(word)));
        }
    }
    return options;
}

GuiScript::GuiScript(MainWindow* window, std::vector<GuiAction> actions, bool quit_at_end, bool report_throughput)
    : QObject(window),
      window_(window),
      actions_(std::move(actions)),
      quit_at_end_(quit_at_end),
      report_throughput_(report_throughput) {
    heartbeat_.setInterval(kHeartbeatMs);
    heartbeat_.setTimerType(Qt::PreciseTimer);
    connect(&heartbeat_, &QTimer::timeout, this,
            [this] { longest_stall_ms_ = std::max(longest_stall_ms_, since_tick_.restart() - kHeartbeatMs); });
    connect(window_->controller(), &SessionController::busyChanged, this, [this](bool busy) {
        if (!busy && waiting_) {
            waiting_ = false;
            // Let the signals queued behind the last command (records, progress) arrive first.
            QTimer::singleShot(0, this, &GuiScript::next);
        }
    });
    // Whatever the window refuses while the script runs ends it with exit code 2, once idle.
    connect(window_->controller(), &SessionController::failed, this,
            [this](const QString& context, const QString& message) {
                std::fprintf(stderr, "stepscope: %s: %s\n", qPrintable(context), qPrintable(message));
                refused_ = true;
            });
    connect(window_->controller(), &SessionController::stepsFinished, this, [this](qint64, bool, const QString& error) {
        if (error.isEmpty()) return;
        std::fprintf(stderr, "stepscope: step: %s\n", qPrintable(error));
        refused_ = true;
    });
    connect(window_->sessionIO(), &SessionIO::failed, this, [this](const QString& message) {
        std::fprintf(stderr, "stepscope: %s\n", qPrintable(message));
        refused_ = true;
    });
}

void GuiScript::start() {
    if (actions_.empty()) return;
    whenIdle();
}

void GuiScript::applyForms() {
    if (!window_->applyForms()) {
        std::fprintf(stderr, "stepscope: the form was refused: %s\n", qPrintable(window_->errorText()));
        QApplication::exit(1);
        return;
    }
    whenIdle();
}

void GuiScript::whenIdle() {
    if (window_->controller()->busy() || !window_->controller()->hasRun()) waiting_ = true;
    else QTimer::singleShot(0, this, &GuiScript::next);
}

void GuiScript::measure(qint64 steps) {
    measured_steps_ = steps;
    measured_from_ = window_->controller()->viewStep();
    frames_before_ = window_->plotPanel()->frames();
    longest_stall_ms_ = 0;
    clock_.start();
    since_tick_.start();
    heartbeat_.start();
}

void GuiScript::report() {
    heartbeat_.stop();
    const double seconds = clock_.nsecsElapsed() * 1e-9;
    const int frames = window_->plotPanel()->frames() - frames_before_;
    // The steps taken, which are fewer than asked when the run stopped (an error, the traces' limit).
    const qint64 taken = window_->controller()->lastStep() - measured_from_;
    std::printf("throughput: %lld steps in %.2f s: %.1f steps/s, %.1f redraws/s, longest event-loop stall %lld ms\n",
                static_cast<long long>(taken), seconds, taken / seconds, frames / seconds,
                static_cast<long long>(longest_stall_ms_));
    std::fflush(stdout);
    measured_steps_ = 0;
}

void GuiScript::next() {
    if (measured_steps_ > 0) report();
    // A refused action was printed; the script stops there, as a refused form does.
    if (refused_) {
        QApplication::exit(2);
        return;
    }
    if (position_ >= actions_.size()) {
        if (quit_at_end_) QApplication::exit(0);
        return;
    }
    const GuiAction& action = actions_[position_];
    if (form_changed_ && action.command != CommandId::Set && action.command != CommandId::Apply) {
        form_changed_ = false;
        applyForms();
        return;
    }
    ++position_;
    switch (action.command) {
        case CommandId::StepMany:
            if (report_throughput_) measure(action.count);
            window_->controller()->step(action.count);
            whenIdle();
            return;
        case CommandId::Set:
            if (!window_->modelPanel()->setField(action.key, action.value)) {
                std::fprintf(stderr, "stepscope: --set: no model field '%s'\n", qPrintable(action.key));
                QApplication::exit(2);
                return;
            }
            form_changed_ = true;
            break;
        case CommandId::ShowRun: window_->pinRun(); break;
        case CommandId::Apply:
            form_changed_ = false;
            applyForms();
            return;
        case CommandId::SaveSession: window_->sessionIO()->saveSession(action.value); break;
        case CommandId::SelectRun: {
            const Run* run = window_->controller()->runs().find_by_name(action.value);
            if (!run) {
                std::fprintf(stderr, "stepscope: --select-run: no run %s\n", qPrintable(quoted(action.value)));
                QApplication::exit(2);
                return;
            }
            window_->controller()->selectRun(run->id);
            break;
        }
        case CommandId::Band:
            window_->plotPanel()->setBatchBand(action.value == "minmax" ? 1 : action.value == "std" ? 2 : 0);
            break;
        case CommandId::View: {
            PlotPanel* plots = window_->plotPanel();
            if (action.value == "intervene") window_->showIntervenePanel();
            else if (action.value == "compare") {
                window_->showCompareView();
                shot_ = window_->compareView();
                waitForComparison();
                return;
            } else plots->showView(plots->page(action.value));
            break;
        }
        case CommandId::Attention:
            window_->plotPanel()->attention()->select(action.key == "cross" ? AttentionRole::Cross
                                                                            : AttentionRole::Self,
                                                      action.value.section(':', 0, 0).toInt(),
                                                      action.value.section(':', 1, 1).toInt());
            break;
        case CommandId::State:
            window_->plotPanel()->states()->select(AttentionRole::Self, action.value.toInt(),
                                                   StatePlot::Quantity(action.count));
            break;
        case CommandId::Scrub: window_->controller()->setViewStep(action.count); break;
        case CommandId::Intervene:
            window_->intervenePanel()->setRun(window_->controller()->traces(), window_->controller()->viewStep(),
                                              window_->controller()->spec().interventions);
            emit window_->intervenePanel()->interveneRequested(action.intervention, action.whole_run);
            whenIdle();
            return;
        case CommandId::Screenshot:
            whenViewsComputed([this, path = action.value] {
                QTimer::singleShot(kSettleMs, this, [this, path] {
                    screenshot(path);
                    next();
                });
            });
            return;
        default:  // the menu-only commands have no flag
            break;
    }
    QTimer::singleShot(0, this, &GuiScript::next);
}

void GuiScript::whenViewsComputed(const std::function<void()>& then) {
    // Drawing the views makes them announce what they lack; one computed may show another that lacks more.
    window_->plotPanel()->refreshNow();
    if (!window_->controller()->recomputing()) {
        then();
        return;
    }
    QTimer::singleShot(50, this, [this, then] { whenViewsComputed(then); });
}

void GuiScript::waitForComparison() {
    if (window_->compareView()->settled()) {
        next();
        return;
    }
    QTimer::singleShot(50, this, &GuiScript::waitForComparison);
}

void GuiScript::screenshot(const QString& path) {
    // The window's pixels as the window system shows them; a platform without a screen grab
    // (offscreen) renders the widgets instead.
    QPixmap pixmap;
    QWidget* target = shot_ ? shot_ : window_;
    if (QScreen* screen = target->screen()) pixmap = screen->grabWindow(target->winId());
    if (pixmap.isNull()) pixmap = target->grab();
    QSaveFile file(path);
    const QByteArray format = QFileInfo(path).suffix().toLatin1();
    if (file.open(QIODevice::WriteOnly) && pixmap.save(&file, format.constData()) && file.commit())
        std::printf("wrote %s (%dx%d)\n", qPrintable(path), pixmap.width(), pixmap.height());
    else std::fprintf(stderr, "stepscope: could not write %s\n", qPrintable(path));
}

}  // namespace stepscope::ui
