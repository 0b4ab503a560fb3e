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
// `digits` significant digits at least (4 for plain numbers, 3 for a power's mantissa otherwise).
QString log_tick_label(double value, int digits = 0);
// The significant digits that label `a` and `b` differently (3 to 9).
int distinct_digits(double a, double b);

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
    int digits_ = 0;       // labels of a range's two ends: digits that tell them apart
};

// The symmetric log transform of matplotlib's symlog: sign(v)·log10(1 + |v|/c), linear within about
// ±c, logarithmic beyond, so signed values spanning decades share one axis. c > 0.
double symlog(double v, double c);
double symlog_inverse(double t, double c);
// c for values up to `largest` in magnitude: two decades below its order, so only the smallest values
// lie in the linear part.
double symlog_constant(double largest);

// Ticks of an axis whose coordinates are symlog(value, c): 0 and ±c·10ᵏ, labelled with the values.
class SymlogTicker : public QCPAxisTicker {
public:
    explicit SymlogTicker(double c) : c_(c) {}

protected:
    QVector<double> createTickVector(double tickStep, const QCPRange& range) override;
    QString getTickLabel(double tick, const QLocale& locale, QChar formatChar, int precision) override;
    int getSubTickCount(double) override { return 0; }

private:
    double c_;
};

// QCustomPlot's linear ticks, but a range too narrow for two of them is labelled at its ends.
class EndsTicker : public QCPAxisTicker {
public:
    // `precision`: the significant digits the axis labels with (its number precision).
    explicit EndsTicker(int precision = 4) : precision_(precision) {}

protected:
    QVector<double> createTickVector(double tickStep, const QCPRange& range) override;
    QString getTickLabel(double tick, const QLocale& locale, QChar formatChar, int precision) override;

private:
    int precision_;
    int digits_ = 0;
};

}  // namespace stepscope::ui
