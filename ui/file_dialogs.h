// File dialogs that open in the folder last used for the same kind of file, and remember the new one.
//
// `kind` names the QSettings key "<kind>/lastDirectory": "export" (plots, traces, snapshots),
// "input", "weights", "session". Each returns the path chosen, empty when cancelled.
#pragma once

#include <QSize>
#include <QString>

class QWidget;

namespace stepscope::ui {

QString open_file_dialog(QWidget* parent, const QString& kind, const QString& title, const QString& filter);
// Proposes `default_name` in the last folder; `selected_filter`, when given, receives the filter chosen.
QString save_file_dialog(QWidget* parent, const QString& kind, const QString& title, const QString& default_name,
                         const QString& filter, QString* selected_filter = nullptr);
QString folder_dialog(QWidget* parent, const QString& kind, const QString& title);
// Asks for an image's width and height, proposing the size last exported (1200 x 800 at first) and
// remembering the answer; an empty size when cancelled.
QSize image_size_dialog(QWidget* parent, const QString& title);

}  // namespace stepscope::ui
