// The look every plot shares: fonts, palette, legend placement, titles, tickers and the empty-state note.
#pragma once

#include <QColor>
#include <QString>
#include <qcustomplot.h>

namespace stepscope::ui {

// A qualitative palette; series beyond it cycle.
QColor series_color(int index);
// The pinned run's version of a colour: the same hue, paler.
QColor pinned_color(int index);
// Viridis: perceptually uniform, readable in grey, and neither end is white (the colour of masked cells).
QCPColorGradient viridis_gradient();
// Blue below 0, white at 0, red above: weights of either sign around a centred range (the delta rules' maps).
QCPColorGradient diverging_gradient();

// Title row, fonts, a legend in a wrapping row below the axes, drag and wheel zoom.
void style_plot(QCustomPlot* plot, const QString& title);
// Sets an axis label that fit_decorations shortens to the axis' length when it must.
void set_axis_label(QCPAxis* axis, const QString& label);
// Elides the title (kept whole in the plot's "fullTitle" property) and lays the legend out in as
// many columns as `width` holds, hiding it when empty; axis labels are shortened to fit `height`.
// Exports call it with their own size.
void fit_decorations(QCustomPlot* plot, int width, int height);
// `text` with its lines broken between words so that each fits `width` pixels in `font` (a word
// longer than that stays whole on its own line).
QString wrap_to_width(const QString& text, const QFont& font, int width);
// A grey note centred on the axes, for empty states ("Press Step ..."); hidden by default.
QCPItemText* add_note(QCustomPlot* plot);
// "0.5", "20", "1·10⁻⁵": plain numbers where they are short, powers of ten where they are not.
QString log_tick_label(double value);

// Log-axis ticks that always label the visible range: 1-2-5 steps within a decade or two, whole
// decades (with unlabelled 2..9 subticks) across more, and never the same label twice.
class LogTicker : public QCPAxisTickerLog {
protected:
    QVector<double> createTickVector(double tickStep, const QCPRange& range) override;
    int getSubTickCount(double tickStep) override;
    QVector<double> createSubTickVector(int subTickCount, const QVector<double>& ticks) override;
    QString getTickLabel(double tick, const QLocale& locale, QChar formatChar, int precision) override;

private:
    bool decades_ = true;  // the last tick vector held whole decades only
};

}  // namespace stepscope::ui
