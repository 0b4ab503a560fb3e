// The window's command table, and what the menus, the shortcuts help and --help read from it.
#include "window_commands.h"

#include <QAction>
#include <QCoreApplication>
#include <QStringList>

namespace stepscope::ui {

namespace {
constexpr const char* kFile = QT_TRANSLATE_NOOP("WindowCommand", "&File");
constexpr const char* kRun = QT_TRANSLATE_NOOP("WindowCommand", "&Run");
constexpr const char* kHelp = QT_TRANSLATE_NOOP("WindowCommand", "&Help");
// The dynamic property that ties an action to its row.
constexpr const char* kCommandProperty = "stepscopeCommand";
constexpr int kFlagColumn = 22;

WindowCommand item(CommandId id, const char* menu, const char* text, CommandShortcut shortcut = {},
                   const char* tip = nullptr) {
    WindowCommand c;
    c.id = id;
    c.menu = menu;
    c.text = text;
    c.shortcut = shortcut;
    c.tip = tip;
    return c;
}

WindowCommand flag_only(CommandId id, const char* name, const char* takes, const char* help) {
    WindowCommand c;
    c.id = id;
    return c.scripted(name, takes, help);
}

std::vector<WindowCommand> build_table() {
    // Ctrl+Q everywhere: the platform's standard Quit key is empty on some (offscreen, Windows).
    return {
        item(CommandId::OpenSession, kFile, "Open session…", QKeySequence::Open),
        item(CommandId::SaveSession, kFile, "Save session…", QKeySequence::Save)
            .scripted("save-session", "FILE", "write every run to a session file"),
        item(CommandId::OpenRecent, kFile, "Open recent"),
        item(CommandId::LoadWeights, kFile, "Load weights…").starts_group(),
        item(CommandId::OpenDemo, kFile, "Open demo model"),
        item(CommandId::CompareModels, kFile, "Compare models", {},
             "Recall of every shipped or opened recall model against stored pairs and state bytes"),
        item(CommandId::OpenSnapshot, kFile, "Open snapshot…"),
        item(CommandId::SaveSnapshot, kFile, "Save snapshot…", {},
             "The state at the viewed step, with its config, step and seeds"),
        item(CommandId::ExportPlot, kFile, "Export plot…", Qt::CTRL | Qt::Key_E).starts_group(),
        item(CommandId::ExportAllPlots, kFile, "Export all plots…", Qt::CTRL | Qt::SHIFT | Qt::Key_E),
        item(CommandId::ExportAnimation, kFile, "Export heatmap animation…", {},
             "The heatmap at each step of its window up to the viewed step, as an animated GIF (or MP4 where "
             "ffmpeg is installed)"),
        item(CommandId::ExportTraces, kFile, "Export traces (CSV)…"),
        item(CommandId::Quit, kFile, "Quit", Qt::CTRL | Qt::Key_Q).starts_group(),

        item(CommandId::Apply, kRun, "Apply forms: new run", Qt::CTRL | Qt::Key_Return,
             "A new run of the forms' model, without interventions; the viewed run stays in the Runs pane")
            .scripted("apply", nullptr, "apply the forms now: a new run of their model, without interventions"),
        item(CommandId::Step, kRun, "Step", Qt::Key_F10, "Feed one sequence element").starts_group(),
        item(CommandId::StepMany, kRun, "Step N", Qt::SHIFT | Qt::Key_F10, "Feed N elements")
            .scripted("steps", "N",
                      "step the viewed run N times; scrubbed back, a new branch at the viewed step takes them"),
        item(CommandId::RunPause, kRun, "Run", Qt::Key_F5, "Run / Pause at the chosen rate"),
        item(CommandId::Reset, kRun, "Reset", Qt::CTRL | Qt::Key_R,
             "New sequence: empty state and a new random feature map draw"),
        item(CommandId::Cancel, kRun, "Cancel", Qt::Key_Escape, "Stop Step N"),
        item(CommandId::ShowRun, kRun, "Show this run", Qt::CTRL | Qt::Key_P,
             "Keep the viewed run drawn, dashed, when another run is viewed (its box in the Runs pane)")
            .starts_group()
            .scripted("pin", nullptr, "show this run: the viewed run stays drawn when another is viewed"),
        item(CommandId::DeleteRun, kRun, "Delete run…", {}, "Delete the viewed run and its branches (asks first)"),
        item(CommandId::Intervene, kRun, "Intervene…", Qt::CTRL | Qt::Key_I,
             "Ablate heads, edit the state or the next input at the viewed step: a branch compared with its "
             "original")
            .starts_group()
            .scripted("intervene", "WHAT",
                      "branch at the viewed step: ablate:L:H, ablate-all:L:H, scale:L:H:F, zero:L:H, clear:L,\n"
                      "clear-head:L:H (a softmax head's cache), copy:L (from the original), input:N:I:V\n"
                      "(element N, component I of the next input) or token:N:TEXT (token runs: element N\n"
                      "reads TEXT at the next step)"),

        item(CommandId::Usage, kHelp, "Usage (README)", QKeySequence::HelpContents),
        item(CommandId::Shortcuts, kHelp, "Keyboard shortcuts"),
        item(CommandId::About, kHelp, "About Stepscope"),

        flag_only(CommandId::Set, "set", "KEY=VALUE",
                  "set a model form field (e.g. attention_type=full); applied before the next action"),
        flag_only(CommandId::Scrub, "scrub", "STEP",
                  "view an earlier step on the timeline; the next --steps branches there"),
        flag_only(CommandId::SelectRun, "select-run", "NAME",
                  "view run NAME (its name in the Runs pane, or \"run N\"): the next --steps step it"),
        flag_only(CommandId::View, "view", "NAME",
                  "bring a tabbed view to the front: performance, spectrum, capacity, divergence, heads,\n"
                  "tokens, intervene, compare (a window of its own, which a later --screenshot saves;\n"
                  "waits for its evaluation)"),
        flag_only(CommandId::Band, "band", "KIND",
                  "time plots draw the element shown (element), or the batch mean in a min-max or std band"),
        flag_only(CommandId::Attention, "attention", "R:L:H",
                  "show attention role R (self or cross), layer L, head H in the heatmap"),
        flag_only(CommandId::State, "state", "Q:L",
                  "plot quantity Q of self attention's layer L in the state plot: S, Z (or K, V), cache,\n"
                  "beta, alpha, prediction-error (the last three: the delta-rule kinds)"),
        flag_only(CommandId::Screenshot, "screenshot", "FILE",
                  "save the window as PNG (the window then quits when the actions are done)"),
    };
}

QString translated(const char* text) { return QCoreApplication::translate("WindowCommand", text); }
}  // namespace

QKeySequence CommandShortcut::sequence() const {
    return standard == QKeySequence::UnknownKey ? keys : QKeySequence(standard);
}

WindowCommand& WindowCommand::starts_group() {
    group_start = true;
    return *this;
}

WindowCommand& WindowCommand::scripted(const char* name, const char* takes, const char* help) {
    flag = name;
    value = takes;
    flag_help = help;
    return *this;
}

const std::vector<WindowCommand>& window_commands() {
    static const std::vector<WindowCommand> table = build_table();
    return table;
}

const WindowCommand& window_command(CommandId id) {
    for (const WindowCommand& c : window_commands())
        if (c.id == id) return c;
    // Every id has a row: the tests loop over the enum's range against the table.
    Q_UNREACHABLE();
}

const WindowCommand* command_for_flag(const QString& flag) {
    if (!flag.startsWith(QLatin1String("--"))) return nullptr;
    for (const WindowCommand& c : window_commands())
        if (c.flag && flag.mid(2) == QLatin1String(c.flag)) return &c;
    return nullptr;
}

QString command_text(const WindowCommand& command) { return translated(command.text ? command.text : command.flag); }

QString command_tip(const WindowCommand& command) {
    if (!command.tip) return {};
    const QString tip = translated(command.tip);
    const QKeySequence keys = command.shortcut.sequence();
    if (keys.isEmpty()) return tip;
    return QStringLiteral("%1 (%2)").arg(tip, keys.toString(QKeySequence::NativeText));
}

QAction* make_action(CommandId id, QObject* parent) {
    const WindowCommand& command = window_command(id);
    auto* action = new QAction(command_text(command), parent);
    action->setShortcut(command.shortcut.sequence());
    action->setToolTip(command_tip(command));
    mark_action(action, id);
    return action;
}

void mark_action(QAction* action, CommandId id) { action->setProperty(kCommandProperty, int(id)); }

int action_command(const QAction* action) {
    const QVariant id = action->property(kCommandProperty);
    return id.isValid() ? id.toInt() : -1;
}

QList<QPair<QString, QString>> shortcut_rows() {
    QList<QPair<QString, QString>> rows;
    for (const WindowCommand& c : window_commands()) {
        const QKeySequence keys = c.shortcut.sequence();
        if (keys.isEmpty() || !c.menu) continue;
        QString what = command_text(c);
        what.remove(QChar(0x2026));  // the ellipsis of "Intervene…"
        what.remove('&');
        rows.append({keys.toString(QKeySequence::NativeText), what.trimmed()});
    }
    return rows;
}

QString scripted_flags_usage() {
    QString text;
    for (const WindowCommand& c : window_commands()) {
        if (!c.flag) continue;
        const QString flag =
            QStringLiteral("  --%1%2")
                .arg(QLatin1String(c.flag), c.value ? QLatin1Char(' ') + QLatin1String(c.value) : QString());
        const QStringList lines = QString::fromUtf8(c.flag_help).split('\n');
        text += flag.leftJustified(kFlagColumn - 1) + ' ' + lines.first() + '\n';
        for (int i = 1; i < lines.size(); ++i) text += QString(kFlagColumn, ' ') + lines[i] + '\n';
    }
    return text;
}

}  // namespace stepscope::ui
