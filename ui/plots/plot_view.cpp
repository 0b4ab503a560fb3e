// The frame of every plot: a row of selectors, then the QCustomPlot, styled alike, with its context menu.
#include "plots/plot_view.h"

#include <QApplication>
#include <QClipboard>
#include <QEvent>
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
    connect(plot_, &QCustomPlot::mouseDoubleClick, this, [this] {
        following_ = true;
        emit needsReplot();
    });
    connect(plot_, &QCustomPlot::legendClick, this, [this](QCPLegend*, QCPAbstractLegendItem* item, QMouseEvent*) {
        if (auto* entry = qobject_cast<QCPPlottableLegendItem*>(item)) toggleSeries(entry->plottable());
    });
}

bool PlotView::eventFilter(QObject* watched, QEvent* event) {
    if (watched != plot_) return QWidget::eventFilter(watched, event);
    switch (event->type()) {
    case QEvent::Wheel:
        following_ = false;  // a wheel zoom means the user wants this view: stop following the data
        break;
    case QEvent::MouseMove:
        if (QApplication::mouseButtons() != Qt::NoButton) following_ = false;
        else hover(static_cast<QMouseEvent*>(event)->position().toPoint());
        break;
    case QEvent::Resize:
        fitDecorations();
        break;
    default:
        break;
    }
    return QWidget::eventFilter(watched, event);
}

void PlotView::toggleSeries(QCPAbstractPlottable* plottable) {
    plottable->setVisible(!plottable->visible());
    if (QCPPlottableLegendItem* entry = plot_->legend->itemWithPlottable(plottable))
        entry->setTextColor(plottable->visible() ? Qt::black : QColor(170, 170, 170));
    emit needsReplot();
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

void PlotView::fitDecorations() { fit_decorations(plot_, plot_->width(), plot_->height()); }

void PlotView::showContextMenu(const QPoint& position) {
    QMenu menu(this);
    menu.addAction(tr("Copy image"), this, [this] {
        QApplication::clipboard()->setPixmap(plot_->toPixmap());
        emit message(tr("Copied the %1 plot as an image").arg(title_));
    });
    menu.addAction(tr("Copy data as CSV"), this, [this] {
        QApplication::clipboard()->setText(csv());
        emit message(tr("Copied the %1 plot's data as CSV").arg(title_));
    });
    menu.addAction(tr("Save as…"), this, [this] {
        const QString path = save_file_dialog(this, QStringLiteral("export"), tr("Save plot"), file_stem_ + ".png",
                                              image_format_filter() + tr(";;CSV data (*.csv)"));
        if (path.isEmpty()) return;
        try {
            if (QFileInfo(path).suffix().compare("csv", Qt::CaseInsensitive) == 0) write_text_file(path, csv());
            else save_plot(plot_, path, plot_->width(), plot_->height(), 1.0);
            emit message(tr("Wrote %1").arg(path));
        } catch (const std::exception& e) {
            emit message(QString::fromStdString(e.what()));
        }
    });
    menu.exec(plot_->mapToGlobal(position));
}

void PlotView::setStores(const TraceStore* current, const TraceStore* pinned) {
    current_ = current;
    pinned_ = pinned;
}

}  // namespace stepscope::ui
