// Last-folder file dialogs: one QSettings key per kind of file.
#include "file_dialogs.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QSettings>

namespace stepscope::ui {

namespace {

QString key(const QString& kind) { return kind + QStringLiteral("/lastDirectory"); }

QString last_folder(const QString& kind) { return QSettings().value(key(kind)).toString(); }

// Remembers the folder of `path` (itself, for a folder), unless the dialog was cancelled.
QString remembered(const QString& kind, const QString& path, bool is_folder) {
    if (!path.isEmpty()) QSettings().setValue(key(kind), is_folder ? path : QFileInfo(path).absolutePath());
    return path;
}

}  // namespace

QString open_file_dialog(QWidget* parent, const QString& kind, const QString& title, const QString& filter) {
    return remembered(kind, QFileDialog::getOpenFileName(parent, title, last_folder(kind), filter), false);
}

QString save_file_dialog(QWidget* parent, const QString& kind, const QString& title, const QString& default_name,
                         const QString& filter, QString* selected_filter) {
    const QString proposed = QDir(last_folder(kind)).filePath(default_name);
    return remembered(kind, QFileDialog::getSaveFileName(parent, title, proposed, filter, selected_filter), false);
}

QString folder_dialog(QWidget* parent, const QString& kind, const QString& title) {
    return remembered(kind, QFileDialog::getExistingDirectory(parent, title, last_folder(kind)), true);
}

}  // namespace stepscope::ui
