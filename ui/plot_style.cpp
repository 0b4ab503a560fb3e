// Shared plot styling so the four plots and their exported images look alike.
#include "plot_style.h"

#include <qcustomplot.h>

namespace stepscope::ui {

namespace {
const QColor kPalette[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),  QColor(214, 39, 40),
                           QColor(148, 103, 189), QColor(140, 86, 75), QColor(227, 119, 194), QColor(127, 127, 127),
                           QColor(188, 189, 34), QColor(23, 190, 207), QColor(0, 0, 128),    QColor(128, 128, 0)};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
}  // namespace

QColor series_color(int index) { return kPalette[((index % kPaletteSize) + kPaletteSize) % kPaletteSize]; }

QColor pinned_color(int index) {
    QColor c = series_color(index);
    return QColor::fromHsvF(c.hsvHueF() < 0 ? 0 : c.hsvHueF(), c.hsvSaturationF() * 0.45, std::min(1.0, c.valueF() * 0.6 + 0.4));
}

void style_plot(QCustomPlot* plot, const QString& title) {
    QFont font = plot->font();
    font.setPointSizeF(9);
    plot->setFont(font);
    plot->setNoAntialiasingOnDrag(true);
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot->plotLayout()->insertRow(0);
    QFont title_font = font;
    title_font.setBold(true);
    title_font.setPointSizeF(10);
    plot->plotLayout()->addElement(0, 0, new QCPTextElement(plot, title, title_font));
    for (QCPAxis* axis : {plot->xAxis, plot->yAxis, plot->yAxis2}) {
        axis->setLabelFont(font);
        axis->setTickLabelFont(font);
    }
    // The legend sits in its own column so long legends never cover the data.
    QCPLayoutGrid* side = new QCPLayoutGrid;
    plot->plotLayout()->addElement(1, 1, side);
    side->setMargins(QMargins(0, 0, 4, 0));
    side->addElement(0, 0, plot->legend);
    side->addElement(1, 0, new QCPLayoutElement(plot));  // filler: the legend stays at the top
    side->setRowStretchFactor(0, 0.01);
    plot->plotLayout()->setColumnStretchFactor(1, 0.001);
    plot->legend->setVisible(true);
    QFont legend_font = font;
    legend_font.setPointSizeF(8);
    plot->legend->setFont(legend_font);
    plot->legend->setRowSpacing(-3);
    plot->legend->setBorderPen(QPen(QColor(200, 200, 200)));
    plot->axisRect()->setRangeZoom(Qt::Horizontal | Qt::Vertical);
}

QCPItemText* add_note(QCustomPlot* plot) {
    auto* note = new QCPItemText(plot);
    note->position->setType(QCPItemPosition::ptAxisRectRatio);
    note->position->setCoords(0.5, 0.5);
    note->setPositionAlignment(Qt::AlignCenter);
    note->setColor(QColor(120, 120, 120));
    note->setClipToAxisRect(false);
    note->setVisible(false);
    return note;
}

}  // namespace stepscope::ui
