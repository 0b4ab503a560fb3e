// Shared plot styling so the four plots and their exported images look alike.
#include "plots/plot_style.h"

#include <algorithm>
#include <cmath>

namespace stepscope::ui {

namespace {
// matplotlib's tab10, then ten darker or more saturated hues apart from them (16 heads need 16 colours).
const QColor kPalette[] = {QColor(31, 119, 180),  QColor(255, 127, 14), QColor(44, 160, 44),   QColor(214, 39, 40),
                           QColor(148, 103, 189), QColor(140, 86, 75),  QColor(227, 119, 194), QColor(127, 127, 127),
                           QColor(188, 189, 34),  QColor(23, 190, 207), QColor(0, 0, 128),     QColor(128, 128, 0),
                           QColor(0, 128, 128),   QColor(128, 0, 0),    QColor(230, 171, 2),   QColor(84, 39, 143),
                           QColor(27, 94, 32),    QColor(199, 21, 133), QColor(96, 125, 139),  QColor(166, 86, 40)};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

// matplotlib's viridis at nine evenly spaced stops.
const QColor kViridis[] = {QColor(68, 1, 84),    QColor(71, 44, 122),  QColor(59, 81, 139),
                           QColor(44, 113, 142), QColor(33, 144, 141), QColor(39, 173, 129),
                           QColor(92, 200, 99),  QColor(170, 220, 50), QColor(253, 231, 37)};

QString superscript(int exponent) {
    static const QString digits = QStringLiteral("⁰¹²³⁴⁵⁶⁷⁸⁹");
    QString out = exponent < 0 ? QStringLiteral("⁻") : QString();
    for (QChar c : QString::number(std::abs(exponent))) out += digits[c.digitValue()];
    return out;
}
}  // namespace

QColor series_color(int index) {
    if (index >= 0 && index < kPaletteSize) return kPalette[index];
    // Past the palette, hues a golden angle apart in two lightnesses: no colour repeats within 256 series.
    const int i = std::abs(index) - kPaletteSize;
    const double hue = std::fmod(0.07 + i * 0.618033988749895, 1.0);
    return QColor::fromHsvF(hue, 0.75, (i / 128) % 2 == 0 ? (i % 2 == 0 ? 0.62 : 0.85) : (i % 2 == 0 ? 0.5 : 0.95));
}

QColor pinned_color(int index) {
    QColor c = series_color(index);
    return QColor::fromHsvF(c.hsvHueF() < 0 ? 0 : c.hsvHueF(), c.hsvSaturationF() * 0.45,
                            std::min(1.0, c.valueF() * 0.6 + 0.4));
}

QCPColorGradient viridis_gradient() {
    QCPColorGradient gradient;
    gradient.clearColorStops();
    constexpr int stops = sizeof(kViridis) / sizeof(kViridis[0]);
    for (int i = 0; i < stops; ++i) gradient.setColorStopAt(double(i) / (stops - 1), kViridis[i]);
    gradient.setColorInterpolation(QCPColorGradient::ciRGB);
    return gradient;
}

QCPColorGradient diverging_gradient() {
    QCPColorGradient gradient;
    gradient.clearColorStops();
    gradient.setColorStopAt(0.0, QColor(33, 102, 172));
    gradient.setColorStopAt(0.25, QColor(146, 197, 222));
    gradient.setColorStopAt(0.5, QColor(247, 247, 247));
    gradient.setColorStopAt(0.75, QColor(244, 165, 130));
    gradient.setColorStopAt(1.0, QColor(178, 24, 43));
    gradient.setColorInterpolation(QCPColorGradient::ciRGB);
    return gradient;
}

QString log_tick_label(double value, int digits) {
    if (value == 0) return QStringLiteral("0");
    const double magnitude = std::abs(value);
    if (magnitude >= 1e-3 && magnitude < 1e5) return QLocale::c().toString(value, 'g', std::max(4, digits));
    int exponent = int(std::floor(std::log10(magnitude) + 1e-9));
    double mantissa = value / std::pow(10.0, exponent);
    if (std::abs(mantissa) >= 9.9995) {  // 9.99999e4 rounds up to 1·10⁵
        mantissa /= 10;
        ++exponent;
    }
    const QString power = QStringLiteral("10") + superscript(exponent);
    if (std::abs(std::abs(mantissa) - 1) < 5e-4) return mantissa < 0 ? QStringLiteral("-") + power : power;
    return QLocale::c().toString(mantissa, 'g', std::max(3, digits)) + QStringLiteral("·") + power;
}

int distinct_digits(double a, double b) {
    int digits = 3;
    while (digits < 9 && log_tick_label(a, digits) == log_tick_label(b, digits)) ++digits;
    return digits;
}

QVector<double> LogTicker::createTickVector(double, const QCPRange& range) {
    QVector<double> ticks;
    if (!(range.lower > 0 && range.upper > range.lower)) return ticks;
    const double decades = std::log10(range.upper / range.lower);
    const int first = int(std::floor(std::log10(range.lower)));
    const int last = int(std::ceil(std::log10(range.upper)));
    auto inside = [&](const QVector<double>& t) {
        return std::count_if(t.begin(), t.end(), [&](double v) { return v >= range.lower && v <= range.upper; });
    };
    // Within about two decades, whole decades alone leave the axis with one label or none: 1-2-5
    // steps, then every digit, then halves, until at least three labels fall inside.
    static const QVector<double> kFew{1, 2, 5};
    static const QVector<double> kMany{1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const QVector<double> kFine{1, 1.2, 1.4, 1.6, 1.8, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9};
    decades_ = decades >= 2.2;
    if (decades_) {
        const int stride = std::max(1, int(std::ceil(decades / std::max(1, tickCount()))));
        for (int e = first - (first % stride + stride) % stride; e <= last + stride; e += stride)
            ticks.push_back(std::pow(10.0, e));
    } else {
        for (const QVector<double>* steps : {&kFew, &kMany, &kFine}) {
            if (steps == &kFew && decades < 0.6) continue;
            ticks.clear();
            for (int e = first - 1; e <= last; ++e)
                for (double m : *steps) ticks.push_back(m * std::pow(10.0, e));
            if (inside(ticks) >= 3) break;
        }
    }
    // A range narrower than the ticks' spacing (a heatmap whose weights all lie near 1/19,750) is
    // labelled at its two ends, with as many digits as tell them apart.
    digits_ = 0;
    if (inside(ticks) < 2) {
        decades_ = false;
        digits_ = distinct_digits(range.lower, range.upper);
        return {range.lower, range.upper};
    }
    // More labels than the axis has room for (tickCount(), set from its length): those at least an
    // even share of the range apart on the log scale, walking out from a power of ten so that 1, 10,
    // ... keep theirs.
    if (!decades_ && inside(ticks) > tickCount() + 1) {
        QVector<double> in;
        for (double t : ticks)
            if (t >= range.lower && t <= range.upper) in << t;
        const double gap = 0.9 * decades / (tickCount() + 1);
        int anchor = 0;
        for (int i = 0; i < in.size(); ++i) {
            const double m = in[i] / std::pow(10.0, std::floor(std::log10(in[i]) + 1e-9));
            if (std::abs(m - 1) < 1e-6) {
                anchor = i;
                break;
            }
        }
        QVector<double> thinned{in[anchor]};
        for (int i = anchor + 1, kept = anchor; i < in.size(); ++i)
            if (std::log10(in[i] / in[kept]) >= gap) thinned << in[kept = i];
        for (int i = anchor - 1, kept = anchor; i >= 0; --i)
            if (std::log10(in[kept] / in[i]) >= gap) thinned.prepend(in[kept = i]);
        ticks = thinned;
    }
    // One tick either side of the range, as QCustomPlot trims them itself.
    QVector<double> kept;
    for (int i = 0; i < ticks.size(); ++i) {
        const bool in = ticks[i] >= range.lower && ticks[i] <= range.upper;
        const bool neighbour = (i + 1 < ticks.size() && ticks[i + 1] >= range.lower && ticks[i] < range.lower) ||
                               (i > 0 && ticks[i - 1] <= range.upper && ticks[i] > range.upper);
        if (in || neighbour) kept.push_back(ticks[i]);
    }
    return kept;
}

int LogTicker::getSubTickCount(double) { return decades_ ? 8 : 0; }

QVector<double> LogTicker::createSubTickVector(int subTickCount, const QVector<double>& ticks) {
    QVector<double> subs;
    if (subTickCount == 0) return subs;
    // 2·10ᵏ .. 9·10ᵏ between decades, at their log positions, not spaced evenly in value.
    for (int i = 0; i + 1 < ticks.size(); ++i) {
        if (ticks[i + 1] / ticks[i] > 10.5) continue;
        for (int m = 2; m <= 9; ++m) subs.push_back(ticks[i] * m);
    }
    return subs;
}

QString LogTicker::getTickLabel(double tick, const QLocale&, QChar, int) { return log_tick_label(tick, digits_); }

double symlog(double v, double c) { return std::copysign(std::log10(1 + std::abs(v) / c), v); }

double symlog_inverse(double t, double c) { return std::copysign(c * (std::pow(10.0, std::abs(t)) - 1), t); }

double symlog_constant(double largest) {
    if (!(largest > 0) || !std::isfinite(largest)) return 1;
    return std::pow(10.0, std::floor(std::log10(largest)) - 2);
}

QVector<double> SymlogTicker::createTickVector(double, const QCPRange& range) {
    // Decades of c either side of 0, thinned to about tickCount() labels.
    QVector<double> values{0};
    for (int k = 0; k < 30; ++k) {
        const double v = c_ * std::pow(10.0, k);
        values << v << -v;
    }
    std::sort(values.begin(), values.end());
    QVector<double> inside;
    for (double v : values) {
        const double t = symlog(v, c_);
        if (t >= range.lower && t <= range.upper) inside << t;
    }
    const int stride = std::max(1, int(std::ceil(double(inside.size()) / std::max(2, tickCount() + 2))));
    if (stride == 1) return inside;
    QVector<double> kept;
    // Keep 0 (when shown) and every stride-th decade out from it.
    for (double t : inside) {
        const long decade = std::lround(std::abs(t) > 0 ? std::log10(std::abs(symlog_inverse(t, c_)) / c_) : 0);
        if (t == 0 || decade % stride == 0) kept << t;
    }
    return kept;
}

QString SymlogTicker::getTickLabel(double tick, const QLocale&, QChar, int) {
    return log_tick_label(symlog_inverse(tick, c_));
}

QVector<double> EndsTicker::createTickVector(double tickStep, const QCPRange& range) {
    QVector<double> ticks = QCPAxisTicker::createTickVector(tickStep, range);
    QVector<double> inside;
    for (double t : ticks)
        if (t >= range.lower && t <= range.upper) inside << t;
    digits_ = 0;
    // Two ticks or more whose labels differ at the axis' precision: QCustomPlot's own.
    const auto label = [this](double v) { return QLocale::c().toString(v, 'g', precision_); };
    if (inside.size() >= 2 && label(inside[0]) != label(inside[1])) return ticks;
    digits_ = distinct_digits(range.lower, range.upper);
    return {range.lower, range.upper};
}

QString EndsTicker::getTickLabel(double tick, const QLocale& locale, QChar formatChar, int precision) {
    if (digits_ == 0) return QCPAxisTicker::getTickLabel(tick, locale, formatChar, precision);
    return log_tick_label(tick, digits_);
}

void style_plot(QCustomPlot* plot, const QString& title) {
    QFont font = plot->font();
    font.setPointSizeF(9);
    plot->setFont(font);
    plot->setNoAntialiasingOnDrag(true);
    // Solid curves as separate segments: Qt strokes a jagged polyline wider than a pixel as one
    // self-intersecting outline, which took the latency plot 200-500 ms a redraw at 1,500 steps (3 ms so).
    plot->setPlottingHint(QCP::phFastPolylines, true);
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot->plotLayout()->insertRow(0);
    QFont title_font = font;
    title_font.setBold(true);
    title_font.setPointSizeF(10);
    plot->plotLayout()->addElement(0, 0, new QCPTextElement(plot, title, title_font));
    plot->setProperty("fullTitle", title);
    for (QCPAxis* axis : {plot->xAxis, plot->yAxis, plot->yAxis2}) {
        axis->setLabelFont(font);
        axis->setTickLabelFont(font);
    }
    // The legend sits in a row below the axes, wrapped into columns: long legends never cover the
    // data nor narrow the plot.
    QCPLegend* legend = plot->legend;
    plot->axisRect()->insetLayout()->take(legend);
    plot->plotLayout()->addElement(2, 0, legend);
    plot->plotLayout()->setRowStretchFactor(2, 0.001);
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, false);
    legend->setVisible(true);
    QFont legend_font = font;
    legend_font.setPointSizeF(8);
    legend->setFont(legend_font);
    legend->setRowSpacing(-3);
    legend->setColumnSpacing(10);
    legend->setBorderPen(Qt::NoPen);
    legend->setBrush(Qt::NoBrush);
    legend->setMargins(QMargins(4, 0, 4, 2));
    legend->setSelectableParts(QCPLegend::spItems);
    plot->axisRect()->setRangeZoom(Qt::Horizontal | Qt::Vertical);
}

void set_axis_label(QCPAxis* axis, const QString& label) {
    axis->setProperty("fullLabel", label);
    axis->setLabel(label);
}

void fit_decorations(QCustomPlot* plot, int width, int height) {
    // Long titles lose their end, never their start ("utputs over time").
    const int title_width = width - 12;
    if (auto* text = qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0))) {
        const QString full = plot->property("fullTitle").toString();
        const QString elided = QFontMetrics(text->font()).elidedText(full, Qt::ElideRight, title_width);
        if (!full.isEmpty() && text->text() != elided) text->setText(elided);
    }
    for (QCPAxis* axis : {plot->yAxis, plot->yAxis2}) {
        const QString full = axis->property("fullLabel").toString();
        if (full.isEmpty()) continue;
        const QString elided =
            QFontMetrics(axis->labelFont()).elidedText(full, Qt::ElideRight, std::max(40, height - 110));
        if (axis->label() != elided) axis->setLabel(elided);
    }
    QCPLegend* legend = plot->legend;
    // A wrapped grid has empty cells: item() is null there.
    auto entry_widths = [legend] {
        QVector<int> widths;
        for (int i = 0; i < legend->itemCount(); ++i)
            if (QCPAbstractLegendItem* item = legend->item(i)) widths.push_back(item->minimumOuterSizeHint().width());
        return widths;
    };
    QVector<int> widths = entry_widths();
    const bool any = !widths.isEmpty();
    if (legend->visible() != any) legend->setVisible(any);
    // An empty legend leaves its row below the axes (the plot's QObject child meanwhile), and comes
    // back with its first entry: a grid without columns caps its column, and so the axes, at its
    // margins' width, hidden or not. A legend some plot took out for good (the heatmap's) stays out.
    QCPLayoutGrid* layout = plot->plotLayout();
    const char* kTaken = "stepscopeLegendTakenWhileEmpty";
    if (!any) {
        if (legend->layout() == layout && layout->take(legend)) legend->setProperty(kTaken, true);
        return;
    }
    if (legend->property(kTaken).toBool()) {
        layout->addElement(2, 0, legend);
        legend->setProperty(kTaken, false);
    }
    // As many columns as fit, each as wide as its widest entry (entries fill the rows in order).
    auto columns_that_fit = [&] {
        auto fits = [&](int columns) {
            QVector<int> column_widths(columns, 0);
            for (int i = 0; i < widths.size(); ++i)
                column_widths[i % columns] = std::max(column_widths[i % columns], widths[i]);
            int total = (columns - 1) * legend->columnSpacing();
            for (int w : column_widths) total += w;
            return total <= width - 16;
        };
        int columns = int(widths.size());
        while (columns > 1 && !fits(columns)) --columns;
        return columns;
    };
    // A legend that would take more than a fifth of the plot's height (12 heads in a short plot)
    // is set smaller and denser, so the axes keep their room.
    auto style = [&](bool compact) {
        QFont font = legend->font();
        font.setPointSizeF(compact ? 7 : 8);
        if (legend->font() != font) legend->setFont(font);
        legend->setIconSize(compact ? QSize(14, 8) : QSize(32, 18));
        legend->setIconTextPadding(compact ? 3 : 7);
        legend->setColumnSpacing(compact ? 6 : 10);
        widths = entry_widths();
    };
    style(false);
    int columns = columns_that_fit();
    const int rows = (int(widths.size()) + columns - 1) / columns;
    const int row_height = QFontMetrics(legend->font()).height() + legend->rowSpacing();
    if (rows * row_height > height / 5) {
        style(true);
        columns = columns_that_fit();
    }
    if (legend->wrap() != columns) legend->setWrap(columns);
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
}

QString wrap_to_width(const QString& text, const QFont& font, int width) {
    const QFontMetrics metrics(font);
    QStringList lines;
    for (const QString& line : text.split('\n')) {
        QString current;
        for (const QString& word : line.split(' ', Qt::SkipEmptyParts)) {
            const QString longer = current.isEmpty() ? word : current + ' ' + word;
            if (!current.isEmpty() && metrics.horizontalAdvance(longer) > width) {
                lines << current;
                current = word;
            } else {
                current = longer;
            }
        }
        lines << current;
    }
    return lines.join('\n');
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
