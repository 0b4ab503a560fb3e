// The frame of every plot: a row of selectors, then the QCustomPlot, styled alike, with its context menu.
#include "plots/plot_view.h"

#include <QApplication>
#include <QClipboard>
#include <QEvent>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QMenu>
#include <QMouseEvent>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "file_dialogs.h"
#include "plots/plot_export.h"
#include "plots/plot_style.h"

namespace stepscope::ui {

PlotView::PlotView(const QString& title, const QString& file_stem, QWidget* parent)
    : QWidget(parent),
      title_(title),
      file_stem_(file_stem),
      controls_(new QHBoxLayout),
      trailing_(new QHBoxLayout),
      plot_(new QCustomPlot) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->setSpacing(2);
    auto* row = new QHBoxLayout;
    row->setContentsMargins(4, 0, 4, 0);
    controls_->setContentsMargins(0, 0, 0, 0);
    trailing_->setContentsMargins(0, 0, 0, 0);
    row->addLayout(controls_, 1);
    row->addLayout(trailing_);
    layout->addLayout(row);
    layout->addWidget(plot_, 1);
    plot_->setMinimumSize(280, 180);
    style_plot(plot_, title);
    plot_->installEventFilter(this);
    plot_->setMouseTracking(true);
    plot_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(plot_, &QWidget::customContextMenuRequested, this, &PlotView::showContextMenu);
    connect(plot_, &QCustomPlot::mouseDoubleClick, this, &PlotView::resetView);
    // A drag or a wheel zoom of the user's (not the plot following its data) is offered to linked plots.
    connect(plot_->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this](const QCPRange& range) {
        if (user_moving_) emit keyRangeChosen(range);
    });
    connect(plot_, &QCustomPlot::legendClick, this, [this](QCPLegend*, QCPAbstractLegendItem* item, QMouseEvent*) {
        if (auto* entry = qobject_cast<QCPPlottableLegendItem*>(item)) toggleSeries(entry->plottable());
    });
}

bool PlotView::eventFilter(QObject* watched, QEvent* event) {
    if (watched != plot_) return QWidget::eventFilter(watched, event);
    switch (event->type()) {
        case QEvent::Wheel: {
            following_ = false;  // a wheel zoom means the user wants this view: stop following the data
            const bool both = static_cast<QWheelEvent*>(event)->modifiers() & Qt::ControlModifier;
            plot_->axisRect()->setRangeZoom(both ? Qt::Horizontal | Qt::Vertical : wheelZoom());
            value_axis_chosen_ = value_axis_chosen_ || both || (wheelZoom() & Qt::Vertical);
            user_moving_ = true;
            // QCustomPlot zooms when it handles the event, after this filter: the flag ends after that.
            QMetaObject::invokeMethod(
                this, [this] { user_moving_ = false; }, Qt::QueuedConnection);
            break;
        }
        case QEvent::MouseButtonPress: {
            // A drag pans what the wheel zooms: time only on a time plot, unless Ctrl is held.
            const bool both = static_cast<QMouseEvent*>(event)->modifiers() & Qt::ControlModifier;
            plot_->axisRect()->setRangeDrag(both ? Qt::Horizontal | Qt::Vertical : wheelZoom());
            if (both || (wheelZoom() & Qt::Vertical)) drag_moves_values_ = true;
            else drag_moves_values_ = false;
            break;
        }
        case QEvent::MouseMove:
            if (QApplication::mouseButtons() != Qt::NoButton) {
                value_axis_chosen_ = value_axis_chosen_ || drag_moves_values_;
                following_ = false;
                user_moving_ = true;
                QMetaObject::invokeMethod(
                    this, [this] { user_moving_ = false; }, Qt::QueuedConnection);
            } else {
                hover(static_cast<QMouseEvent*>(event)->position().toPoint());
            }
            break;
        case QEvent::Resize: fitDecorations(); break;
        default: break;
    }
    return QWidget::eventFilter(watched, event);
}

void PlotView::toggleSeries(QCPAbstractPlottable* plottable) {
    plottable->setVisible(!plottable->visible());
    if (QCPPlottableLegendItem* entry = plot_->legend->itemWithPlottable(plottable))
        entry->setTextColor(plottable->visible() ? Qt::black : QColor(170, 170, 170));
    emit needsReplot();
}

void PlotView::addRowUnderControls(QWidget* widget) { static_cast<QVBoxLayout*>(layout())->insertWidget(1, widget); }

QString PlotView::viewedShortName() const {
    return viewed_name_.isEmpty() ? tr("the viewed run") : viewed_name_.section(':', 0, 0);
}

QString PlotView::fullTitle() const { return plot_->property("fullTitle").toString(); }

QString PlotView::shownTitle() const {
    if (auto* text = qobject_cast<QCPTextElement*>(plot_->plotLayout()->element(0, 0))) return text->text();
    return {};
}

void PlotView::setSubtitle(const QString& subtitle) {
    plot_->setProperty("fullTitle", subtitle.isEmpty() ? title_ : QStringLiteral("%1 · %2").arg(title_, subtitle));
    fitDecorations();
}

void PlotView::markDirty() {
    dirty_ = true;
    emit needsReplot();
}

void PlotView::setComputeNote(const QString& note) {
    if (note == compute_note_) return;
    compute_note_ = note;
    markDirty();
}

void PlotView::fitDecorations() { fit_decorations(plot_, plot_->width(), plot_->height()); }

void PlotView::resetView() {
    following_ = true;
    value_axis_chosen_ = false;
    emit viewReset();
    emit needsReplot();
}

void PlotView::showKeyRange(const QCPRange& range) {
    following_ = false;
    plot_->xAxis->setRange(range);
    emit needsReplot();
}

void PlotView::saveAs(const QString& path, QSize size) {
    try {
        if (QFileInfo(path).suffix().compare("csv", Qt::CaseInsensitive) == 0) write_text_file(path, csv());
        else save_plot(plot_, path, size.width(), size.height());
        emit message(tr("Wrote %1").arg(path));
    } catch (const std::exception& e) {
        emit message(QString::fromStdString(e.what()));
    }
}

QMenu* PlotView::contextMenu() {
    auto* menu = new QMenu(this);
    menu->setAttribute(Qt::WA_DeleteOnClose);
    menu->addAction(tr("Copy image"), this, [this] {
        QApplication::clipboard()->setPixmap(plot_->toPixmap());
        emit message(tr("Copied the %1 plot as an image").arg(title_));
    });
    menu->addAction(tr("Copy data as CSV"), this, [this] {
        QApplication::clipboard()->setText(csv());
        emit message(tr("Copied the %1 plot's data as CSV").arg(title_));
    });
    menu->addAction(tr("Save as…"), this, [this] {
        const QString path = save_file_dialog(this, QStringLiteral("export"), tr("Save plot"), file_stem_ + ".png",
                                              image_format_filter() + tr(";;CSV data (*.csv)"));
        if (path.isEmpty()) return;
        // An image asks its size: the plot's on-screen size is rarely the figure wanted.
        QSize size;
        if (QFileInfo(path).suffix().compare("csv", Qt::CaseInsensitive) != 0) {
            size = image_size_dialog(this, tr("Save plot: image size"));
            if (size.isEmpty()) return;
        }
        saveAs(path, size);
    });
    menu->addSeparator();
    QAction* reset = menu->addAction(tr("Reset view"), this, &PlotView::resetView);
    reset->setToolTip(tr("Follow the data again (double-click)"));
    return menu;
}

void PlotView::showContextMenu(const QPoint& position) { contextMenu()->popup(plot_->mapToGlobal(position)); }

void PlotView::setStores(const TraceStore* current, std::vector<RunOverlay> overlays, const QString& viewed_name) {
    current_ = current;
    viewed_name_ = viewed_name;
    overlays_ = std::move(overlays);
    pinned_ = overlays_.empty() ? nullptr : overlays_.front().store;
}

}  // namespace stepscope::ui
