// Save session / Open session: the run's session JSON to and from files, opened through the SessionController.
#pragma once

#include <QObject>

#include <functional>

class QAction;
class QWidget;

namespace stepscope::ui {

class SessionController;

class SessionIO : public QObject {
    Q_OBJECT

public:
    SessionIO(QWidget* window, SessionController* run);

    QAction* openAction() const { return open_; }
    QAction* saveAction() const { return save_; }

    // Asked before Open session replaces the run; false leaves it (the window asks about unsaved work).
    void setReplaceGuard(std::function<bool()> guard) { may_replace_ = std::move(guard); }

    // Dialog-free: reading failures go to `failed` and leave the run as it is.
    void openSession(const QString& path);
    void saveSession(const QString& path);

signals:
    void done(const QString& message);
    void failed(const QString& message);
    // A session file was read and its run requested (for Recent files).
    void sessionOpened(const QString& path);
    void sessionSaved(const QString& path);

private:
    QWidget* window_;
    SessionController* controller_;
    QAction* open_;
    QAction* save_;
    std::function<bool()> may_replace_;
};

}  // namespace stepscope::ui
