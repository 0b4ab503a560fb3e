// Last-folder file dialogs: one QSettings key per kind of file.
#include "file_dialogs.h"

#include <QDialog>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QSpinBox>
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

QSize image_size_dialog(QWidget* parent, const QString& title) {
    QSettings settings;
    QDialog dialog(parent);
    dialog.setWindowTitle(title);
    auto* form = new QFormLayout(&dialog);
    auto* width = new QSpinBox;
    auto* height = new QSpinBox;
    for (QSpinBox* box : {width, height}) {
        box->setRange(16, 8192);
        box->setSuffix(QObject::tr(" px"));
    }
    width->setValue(settings.value(QStringLiteral("export/width"), 1200).toInt());
    height->setValue(settings.value(QStringLiteral("export/height"), 800).toInt());
    form->addRow(QObject::tr("Width"), width);
    form->addRow(QObject::tr("Height"), height);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    form->addRow(buttons);
    QObject::connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
    QObject::connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    if (dialog.exec() != QDialog::Accepted) return {};
    settings.setValue(QStringLiteral("export/width"), width->value());
    settings.setValue(QStringLiteral("export/height"), height->value());
    return QSize(width->value(), height->value());
}

}  // namespace stepscope::ui
