// The Runs pane: every run as a tree (a branch under its parent at its branch step), as TensorBoard lists runs.
//
// A click views a run (the plots show it, the steps go to it); its box shows or hides it beside the
// viewed run on every time plot; its name is edited in place; Delete asks before removing it and its branches.
#pragma once

#include <QWidget>

#include <functional>

class QPushButton;
class QTreeWidget;
class QTreeWidgetItem;

namespace stepscope::ui {

class SessionController;

class RunsPane : public QWidget {
    Q_OBJECT

public:
    explicit RunsPane(SessionController* controller, QWidget* parent = nullptr);

    QTreeWidget* tree() const { return tree_; }
    // The item of run `id`, or null.
    QTreeWidgetItem* item(int id) const;
    // Asks whether to delete with `text`: a message box unless a test replaces it.
    void setDeleteQuestion(std::function<bool(const QString& text)> ask) { ask_ = std::move(ask); }
    // Deletes run `id` and its branches once the user agrees; false when they did not.
    bool deleteRun(int id);

public slots:
    // The tree again from the controller's runs.
    void refresh();

private:
    // Refreshes once control returns to the event loop: a change made from an item's own signal (its box,
    // its name) must not delete that item under Qt's feet.
    void scheduleRefresh();
    void onItemChanged(QTreeWidgetItem* item, int column);
    void showMenu(const QPoint& position);

    SessionController* controller_;
    QTreeWidget* tree_;
    QPushButton* delete_;
    std::function<bool(const QString&)> ask_;
    bool filling_ = false;
    bool refresh_pending_ = false;
};

}  // namespace stepscope::ui
