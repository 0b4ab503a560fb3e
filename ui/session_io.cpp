// Session files: written from the worker's record of the run, so opening one replays it exactly.
#include "session_io.h"

#include <QAction>
#include <QWidget>
#include <QFileInfo>

#include "file_dialogs.h"
#include "session/run_tree.h"
#include "session/session_spec.h"
#include "session/session_controller.h"
#include "window_commands.h"

namespace stepscope::ui {

namespace {
const QString kDialogKind = QStringLiteral("session");
}

SessionIO::SessionIO(QWidget* window, SessionController* run)
    : QObject(window),
      window_(window),
      controller_(run),
      open_(make_action(CommandId::OpenSession, this)),
      save_(make_action(CommandId::SaveSession, this)) {
    connect(open_, &QAction::triggered, this, [this] {
        if (may_replace_ && !may_replace_()) return;
        const QString path =
            open_file_dialog(window_, kDialogKind, tr("Open session"), tr("Stepscope session (*.json);;All files (*)"));
        if (!path.isEmpty()) openSession(path);
    });
    connect(save_, &QAction::triggered, this, [this] {
        QString path = save_file_dialog(window_, kDialogKind, tr("Save session"), QStringLiteral("session.json"),
                                        tr("Stepscope session (*.json)"));
        if (path.isEmpty()) return;
        if (QFileInfo(path).suffix().isEmpty()) path += ".json";
        saveSession(path);
    });
}

void SessionIO::openSession(const QString& path) {
    try {
        controller_->openTree(tree_from_file(path));
        emit sessionOpened(path);
    } catch (const std::exception& e) {
        emit failed(QString::fromStdString(e.what()));
    }
}

void SessionIO::saveSession(const QString& path) {
    if (!controller_->hasRun()) {
        emit failed(tr("There is no run to save"));
        return;
    }
    try {
        write_tree_file(path, controller_->sessionTree());
        controller_->markSaved();
        emit sessionSaved(path);
        const int runs = controller_->runs().size();
        emit done(runs == 1 ? tr("Wrote %1 (1 run)").arg(path) : tr("Wrote %1 (%2 runs)").arg(path).arg(runs));
    } catch (const std::exception& e) {
        emit failed(QString::fromStdString(e.what()));
    }
}

}  // namespace stepscope::ui
