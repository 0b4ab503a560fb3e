// The frame of every plot: a row of selectors, then the QCustomPlot, styled alike.
#include "plot_view.h"

#include <QApplication>
#include <QEvent>
#include <QHBoxLayout>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "plot_style.h"

namespace stepscope::ui {

PlotView::PlotView(const QString& title, const QString& file_stem, QWidget* parent)
    : QWidget(parent), title_(title), file_stem_(file_stem), controls_(new QHBoxLayout), plot_(new QCustomPlot) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->setSpacing(2);
    controls_->setContentsMargins(4, 0, 4, 0);
    layout->addLayout(controls_);
    layout->addWidget(plot_, 1);
    plot_->setMinimumSize(320, 200);
    style_plot(plot_, title);
    plot_->installEventFilter(this);
    connect(plot_, &QCustomPlot::mouseDoubleClick, this, [this] {
        following_ = true;
        emit needsReplot();
    });
}

bool PlotView::eventFilter(QObject* watched, QEvent* event) {
    // A drag or a wheel zoom means the user wants this view: stop following the data.
    if (watched == plot_ && (event->type() == QEvent::Wheel ||
                             (event->type() == QEvent::MouseMove && QApplication::mouseButtons() != Qt::NoButton)))
        following_ = false;
    return QWidget::eventFilter(watched, event);
}

void PlotView::setSubtitle(const QString& subtitle) {
    if (auto* text = qobject_cast<QCPTextElement*>(plot_->plotLayout()->element(0, 0)))
        text->setText(subtitle.isEmpty() ? title_ : QStringLiteral("%1 · %2").arg(title_, subtitle));
}

void PlotView::setStores(const TraceStore* current, const TraceStore* pinned) {
    current_ = current;
    pinned_ = pinned;
}

}  // namespace stepscope::ui
