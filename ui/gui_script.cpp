// Scripted window actions, each started when the engine is idle, for demos and the README screenshot.
#include "gui_script.h"

#include <QApplication>
#include <QFileInfo>
#include <QPixmap>
#include <QSaveFile>
#include <QScreen>
#include <QTimer>
#include <QWindow>

#include <cstdio>

#include "main_window.h"
#include "model_panel.h"
#include "plot_panel.h"
#include "run_controller.h"
#include "stepscope/error.h"

namespace stepscope::ui {

const char* const kGuiUsage =
    "usage: stepscope [--session FILE | --config FILE] [--steps N] [--set KEY=VALUE] [--pin] [--scrub STEP]\n"
    "                 [--screenshot FILE] ...\n"
    "  Opens the explorer on the seed example, a session or a builder config, then runs the actions in order:\n"
    "  --steps N          step N times\n"
    "  --set KEY=VALUE    set a model form field (e.g. attention_type=full); applied before the next action\n"
    "  --pin              pin the run for comparison\n"
    "  --scrub STEP       view an earlier step on the timeline; the next --steps branches there\n"
    "  --screenshot FILE  save the window as PNG, then quit when the actions are done\n"
    "  --window-size WxH  the window's size (a screenshot's default is 1600x1000)\n";

namespace {
Error usage(const QString& message) { return Error(message.toStdString()); }
// The plots redraw on a timer and the window system needs a moment to show them.
constexpr int kSettleMs = 400;
}  // namespace

bool GuiOptions::quits() const {
    for (const GuiAction& a : actions)
        if (a.kind == GuiAction::Kind::Screenshot) return true;
    return false;
}

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
            if (options.spec) throw usage(QStringLiteral("give one --session or --config"));
            options.spec = session_from_file(value());
        } else if (word == "--steps") {
            const QString text = value();
            bool ok = false;
            const qint64 count = text.toLongLong(&ok);
            if (!ok || count < 1 || count > 10000000)
                throw usage(QStringLiteral("--steps must be an integer from 1 to 10000000, got '%1'").arg(text));
            options.actions.push_back({GuiAction::Kind::Steps, count, {}, {}});
        } else if (word == "--set") {
            const QString text = value();
            const int equals = text.indexOf('=');
            if (equals <= 0) throw usage(QStringLiteral("--set needs KEY=VALUE, got '%1'").arg(text));
            options.actions.push_back({GuiAction::Kind::Set, 0, text.left(equals), text.mid(equals + 1)});
        } else if (word == "--scrub") {
            const QString text = value();
            bool ok = false;
            const qint64 step = text.toLongLong(&ok);
            if (!ok || step < 0) throw usage(QStringLiteral("--scrub needs a step from 0 on, got '%1'").arg(text));
            options.actions.push_back({GuiAction::Kind::Scrub, step, {}, {}});
        } else if (word == "--pin") {
            options.actions.push_back({GuiAction::Kind::Pin, 0, {}, {}});
        } else if (word == "--window-size") {
            const QString text = value();
            const QStringList parts = text.split('x');
            const int width = parts.value(0).toInt(), height = parts.value(1).toInt();
            if (parts.size() != 2 || width < 320 || height < 240 || width > 8192 || height > 8192)
                throw usage(QStringLiteral("--window-size needs WIDTHxHEIGHT from 320x240 to 8192x8192, got '%1'")
                                .arg(text));
            options.window_size = QSize(width, height);
        } else if (word == "--screenshot") {
            options.actions.push_back({GuiAction::Kind::Screenshot, 0, {}, value()});
        } else {
            throw usage(QStringLiteral("unknown argument '%1' (see stepscope --help)").arg(word));
        }
    }
    return options;
}

GuiScript::GuiScript(MainWindow* window, std::vector<GuiAction> actions, bool quit_at_end)
    : QObject(window), window_(window), actions_(std::move(actions)), quit_at_end_(quit_at_end) {
    connect(window_->controller(), &RunController::busyChanged, this, [this](bool busy) {
        if (!busy && waiting_) {
            waiting_ = false;
            // Let the signals queued behind the last command (records, progress) arrive first.
            QTimer::singleShot(0, this, &GuiScript::next);
        }
    });
    connect(window_->controller(), &RunController::failed, this, [](const QString& context, const QString& message) {
        std::fprintf(stderr, "stepscope: %s: %s\n", qPrintable(context), qPrintable(message));
    });
}

void GuiScript::start() {
    if (actions_.empty()) return;
    whenIdle();
}

void GuiScript::whenIdle() {
    if (window_->controller()->busy() || !window_->controller()->hasRun()) waiting_ = true;
    else QTimer::singleShot(0, this, &GuiScript::next);
}

void GuiScript::next() {
    if (position_ >= actions_.size()) {
        if (quit_at_end_) QApplication::exit(0);
        return;
    }
    const GuiAction& action = actions_[position_];
    if (form_changed_ && action.kind != GuiAction::Kind::Set) {
        form_changed_ = false;
        if (!window_->applyForms()) {
            std::fprintf(stderr, "stepscope: the form was refused: %s\n", qPrintable(window_->errorText()));
            QApplication::exit(1);
            return;
        }
        whenIdle();
        return;
    }
    ++position_;
    switch (action.kind) {
        case GuiAction::Kind::Steps:
            window_->controller()->step(action.count);
            whenIdle();
            return;
        case GuiAction::Kind::Set:
            if (!window_->modelPanel()->setField(action.key, action.value)) {
                std::fprintf(stderr, "stepscope: --set: no model field '%s'\n", qPrintable(action.key));
                QApplication::exit(2);
                return;
            }
            form_changed_ = true;
            break;
        case GuiAction::Kind::Pin:
            window_->pinRun();
            break;
        case GuiAction::Kind::Scrub:
            window_->controller()->setViewStep(action.count);
            break;
        case GuiAction::Kind::Screenshot:
            window_->plotPanel()->refreshNow();
            QTimer::singleShot(kSettleMs, this, [this, path = action.value] {
                screenshot(path);
                next();
            });
            return;
    }
    QTimer::singleShot(0, this, &GuiScript::next);
}

void GuiScript::screenshot(const QString& path) {
    // The window's pixels as the window system shows them; a platform without a screen grab
    // (offscreen) renders the widgets instead.
    QPixmap pixmap;
    if (QScreen* screen = window_->screen()) pixmap = screen->grabWindow(window_->winId());
    if (pixmap.isNull()) pixmap = window_->grab();
    QSaveFile file(path);
    const QByteArray format = QFileInfo(path).suffix().toLatin1();
    if (file.open(QIODevice::WriteOnly) && pixmap.save(&file, format.constData()) && file.commit())
        std::printf("wrote %s (%dx%d)\n", qPrintable(path), pixmap.width(), pixmap.height());
    else std::fprintf(stderr, "stepscope: could not write %s\n", qPrintable(path));
}

}  // namespace stepscope::ui
