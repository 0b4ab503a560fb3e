// The Runs pane: a QTreeWidget over the controller's RunTree, rebuilt when the runs change.
#include "runs_pane.h"

#include <QApplication>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QHeaderView>
#include <QLocale>
#include <QMenu>
#include <QMessageBox>
#include <QPainter>
#include <QPixmap>
#include <QPushButton>
#include <QSignalBlocker>
#include <QTimer>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <map>
#include <utility>

#include "session/session_controller.h"

namespace stepscope::ui {

namespace {
constexpr int kIdRole = Qt::UserRole + 1;

QIcon swatch(const QString& color) {
    QPixmap pixmap(14, 14);
    pixmap.fill(Qt::transparent);
    QPainter painter(&pixmap);
    painter.setPen(QColor(color).darker(130));
    painter.setBrush(QColor(color));
    painter.drawRoundedRect(QRectF(1.5, 1.5, 11, 11), 2, 2);
    return QIcon(pixmap);
}
}  // namespace

RunsPane::RunsPane(SessionController* controller, QWidget* parent)
    : QWidget(parent), controller_(controller), tree_(new QTreeWidget), delete_(new QPushButton(tr("Delete…"))) {
    tree_->setColumnCount(2);
    tree_->setHeaderLabels({tr("Run"), tr("Steps")});
    tree_->setToolTip(
        tr("Click a run to view and step it; its box draws it beside the viewed run on every time plot; "
           "double-click (F2) renames it. A branch sits under its parent."));
    tree_->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    tree_->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    tree_->header()->setStretchLastSection(false);
    tree_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
    tree_->setContextMenuPolicy(Qt::CustomContextMenu);
    tree_->setTextElideMode(Qt::ElideMiddle);
    delete_->setToolTip(tr("Delete the selected run and its branches (asks first)"));
    auto* buttons = new QHBoxLayout;
    buttons->setContentsMargins(0, 0, 0, 0);
    buttons->addStretch(1);
    buttons->addWidget(delete_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(tree_, 1);
    layout->addLayout(buttons);

    connect(tree_, &QTreeWidget::itemChanged, this, &RunsPane::onItemChanged);
    connect(tree_, &QTreeWidget::itemClicked, this,
            [this](QTreeWidgetItem* item) { controller_->selectRun(item->data(0, kIdRole).toInt()); });
    connect(tree_, &QTreeWidget::customContextMenuRequested, this, &RunsPane::showMenu);
    connect(delete_, &QPushButton::clicked, this, [this] {
        if (QTreeWidgetItem* item = tree_->currentItem()) deleteRun(item->data(0, kIdRole).toInt());
    });
    connect(controller_, &SessionController::runsChanged, this, &RunsPane::scheduleRefresh);
    connect(controller_, &SessionController::runOpened, this, &RunsPane::scheduleRefresh);
    refresh();
}

void RunsPane::scheduleRefresh() {
    if (std::exchange(refresh_pending_, true)) return;
    QTimer::singleShot(0, this, [this] {
        refresh_pending_ = false;
        refresh();
    });
}

QTreeWidgetItem* RunsPane::item(int id) const {
    for (QTreeWidgetItemIterator it(tree_); *it; ++it)
        if ((*it)->data(0, kIdRole).toInt() == id) return *it;
    return nullptr;
}

void RunsPane::refresh() {
    // A name being typed stays: the next change redraws the tree.
    if (auto* editor = qobject_cast<QLineEdit*>(QApplication::focusWidget()); editor && tree_->isAncestorOf(editor))
        return;
    filling_ = true;
    const QSignalBlocker blocker(tree_);
    tree_->clear();
    const RunTree& runs = controller_->runs();
    const QLocale locale;
    std::map<int, QTreeWidgetItem*> items;
    for (const auto& run : runs.runs()) {
        const auto parent = items.find(run->parent);
        auto* item = parent != items.end() ? new QTreeWidgetItem(parent->second) : new QTreeWidgetItem(tree_);
        items[run->id] = item;
        item->setData(0, kIdRole, run->id);
        item->setText(0, runs.name(*run));
        item->setToolTip(0, runs.name(*run) + (run->parent >= 0
                                                   ? tr("\nbranched at step %1; shares its parent's steps before")
                                                         .arg(locale.toString(qlonglong(run->branch_step())))
                                                   : QString()));
        item->setIcon(0, swatch(run->color));
        item->setFlags(item->flags() | Qt::ItemIsEditable | Qt::ItemIsUserCheckable);
        item->setCheckState(0, run->visible ? Qt::Checked : Qt::Unchecked);
        const int64_t from = run->parent >= 0 ? run->branch_step() : run->traces->base_step();
        item->setText(1, QStringLiteral("%1–%2").arg(locale.toString(qlonglong(from)),
                                                     locale.toString(qlonglong(run->last_step()))));
        item->setTextAlignment(1, Qt::AlignRight | Qt::AlignVCenter);
        if (run->id == controller_->viewedRun()) {
            QFont bold = item->font(0);
            bold.setBold(true);
            item->setFont(0, bold);
            item->setFont(1, bold);
            tree_->setCurrentItem(item);
        }
    }
    tree_->expandAll();
    delete_->setEnabled(!runs.empty());
    filling_ = false;
}

void RunsPane::onItemChanged(QTreeWidgetItem* item, int column) {
    if (filling_ || column != 0) return;
    const int id = item->data(0, kIdRole).toInt();
    const Run* run = controller_->runs().find(id);
    if (!run) return;
    const bool visible = item->checkState(0) == Qt::Checked;
    if (visible != run->visible) {
        controller_->setRunVisible(id, visible);
        return;
    }
    const QString name = item->text(0);
    if (name != controller_->runs().name(*run) && !controller_->renameRun(id, name)) refresh();
}

bool RunsPane::deleteRun(int id) {
    const RunTree& runs = controller_->runs();
    const Run* run = runs.find(id);
    if (!run) return false;
    const auto below = runs.descendants(id);
    QString text = below.empty()       ? tr("Delete %1?").arg(runs.name(*run))
                   : below.size() == 1 ? tr("Delete %1 and its branch?").arg(runs.name(*run))
                                       : tr("Delete %1 and its %2 branches?").arg(runs.name(*run)).arg(below.size());
    text += run->saved() ? tr(" It is in the session file last saved.")
                         : tr(" Its steps are in no session file: they are lost unless you save the session first.");
    const bool yes = ask_ ? ask_(text)
                          : QMessageBox::question(this, tr("Delete run"), text, QMessageBox::Yes | QMessageBox::Cancel,
                                                  QMessageBox::Cancel) == QMessageBox::Yes;
    if (!yes) return false;
    controller_->deleteRun(id);
    return true;
}

void RunsPane::showMenu(const QPoint& position) {
    QTreeWidgetItem* item = tree_->itemAt(position);
    if (!item) return;
    const int id = item->data(0, kIdRole).toInt();
    QMenu menu(this);
    menu.addAction(tr("View and step this run"), this, [this, id] { controller_->selectRun(id); });
    menu.addAction(item->checkState(0) == Qt::Checked ? tr("Hide beside the viewed run") : tr("Show this run"), this,
                   [this, id, item] { controller_->setRunVisible(id, item->checkState(0) != Qt::Checked); });
    menu.addAction(tr("Rename"), this, [this, item] { tree_->editItem(item, 0); });
    menu.addSeparator();
    menu.addAction(tr("Delete…"), this, [this, id] { deleteRun(id); });
    menu.exec(tree_->viewport()->mapToGlobal(position));
}

}  // namespace stepscope::ui
