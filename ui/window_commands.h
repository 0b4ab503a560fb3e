// The window's commands in one table: each one's menu place, text, shortcut, tooltip and scripted flag.
// The menus, the shortcuts help and `stepscope --help` are all built from it, so they cannot disagree.
// A new command is one table row, plus the code that runs it where its action lives.
#pragma once

#include <QKeySequence>
#include <QList>
#include <QPair>
#include <QString>

#include <vector>

class QAction;
class QObject;

namespace stepscope::ui {

enum class CommandId {
    // File
    OpenSession,
    SaveSession,
    OpenRecent,
    LoadWeights,
    OpenDemo,
    CompareModels,
    OpenSnapshot,
    SaveSnapshot,
    ExportPlot,
    ExportAllPlots,
    ExportAnimation,
    ExportTraces,
    Quit,
    // Run
    Apply,
    Step,
    StepMany,
    RunPause,
    Reset,
    Cancel,
    ShowRun,
    DeleteRun,
    Intervene,
    // Help
    Usage,
    Shortcuts,
    About,
    // Scripted flags with no menu item
    Set,
    Scrub,
    SelectRun,
    View,
    Band,
    Attention,
    State,
    Screenshot,
};

// A platform's standard key (Open, Save, Help) or fixed keys. A standard key is looked up only when asked for,
// since that needs the window system (`stepscope --help` reads the table without one).
struct CommandShortcut {
    CommandShortcut() = default;
    CommandShortcut(QKeySequence::StandardKey key) : standard(key) {}
    CommandShortcut(QKeyCombination combination) : keys(combination) {}
    CommandShortcut(Qt::Key key) : keys(key) {}
    QKeySequence sequence() const;
    QKeySequence::StandardKey standard = QKeySequence::UnknownKey;
    QKeySequence keys;
};

struct WindowCommand {
    CommandId id = CommandId::OpenSession;
    const char* menu = nullptr;  // its menu's title ("&File"); nullptr: a scripted flag only
    const char* text = nullptr;  // the menu item, or what the flag does
    CommandShortcut shortcut;
    const char* tip = nullptr;
    bool group_start = false;         // a separator above it in its menu
    const char* flag = nullptr;       // the scripted flag without its dashes ("steps"); nullptr: none
    const char* value = nullptr;      // the flag's value ("N"); nullptr: the flag takes none
    const char* flag_help = nullptr;  // its `stepscope --help` text; '\n' starts an indented line

    // Table-building steps, so a row reads as one line.
    WindowCommand& starts_group();
    WindowCommand& scripted(const char* name, const char* takes, const char* help);
};

const std::vector<WindowCommand>& window_commands();
const WindowCommand& window_command(CommandId id);
// The command whose scripted flag is `flag` ("--steps"), or nullptr.
const WindowCommand* command_for_flag(const QString& flag);

// The command's menu text and tooltip, translated; the tooltip names the shortcut.
QString command_text(const WindowCommand& command);
QString command_tip(const WindowCommand& command);
// A new action for `id` with the table's text, shortcut and tooltip; the window's menus find it by its id.
QAction* make_action(CommandId id, QObject* parent);
// Ties an action (a submenu's, say) to its row, as make_action does.
void mark_action(QAction* action, CommandId id);
// The command an action was made for by make_action, or -1.
int action_command(const QAction* action);

// (keys, what) for every command with a shortcut, in menu order.
QList<QPair<QString, QString>> shortcut_rows();
// The scripted flags' lines of `stepscope --help`.
QString scripted_flags_usage();

}  // namespace stepscope::ui
