// The plots' conventions: log tickers, colour map, axis scaling, legends, titles, smoothing, hover,
// cursor, non-finite markers, CSV, and exports that scale (PNG, SVG) or skip an empty heatmap.
#include <QtTest>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "headless_export.h"
#include "plots/attention_plot.h"
#include "plots/decimation.h"
#include "plots/output_plot.h"
#include "plots/performance_plot.h"
#include "plots/plot_export.h"
#include "plots/plot_panel.h"
#include "plots/plot_style.h"
#include "plots/spectrum_plot.h"
#include "plots/state_plot.h"
#include "session/session.h"
#include "session/trace_store.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

// Per pixel column of [lower, upper) split `columns` ways, the finite minimum and maximum of the points
// given, and the first and last key; columns without points stay empty. Keys outside are skipped.
struct ColumnExtent {
    double lowest = std::numeric_limits<double>::infinity(), highest = -std::numeric_limits<double>::infinity();
    double first_key = std::numeric_limits<double>::quiet_NaN(), last_key = first_key;
};

template <typename Keys, typename Values>
std::vector<ColumnExtent> column_extents(const Keys& keys, const Values& values, double lower, double upper,
                                         int columns) {
    std::vector<ColumnExtent> extents(static_cast<size_t>(columns), ColumnExtent{});
    for (int i = 0; i < int(keys.size()); ++i) {
        const long c = pixel_column(keys[i], lower, upper, columns);
        if (c < 0 || c >= columns) continue;
        ColumnExtent& e = extents[size_t(c)];
        if (std::isnan(e.first_key)) e.first_key = keys[i];
        e.last_key = keys[i];
        if (std::isnan(values[i])) continue;
        e.lowest = std::min(e.lowest, double(values[i]));
        e.highest = std::max(e.highest, double(values[i]));
    }
    return extents;
}

// The drawn points hold each column's extremes and ends exactly as the full data does.
void verify_columns_kept(const SeriesData& keys, const SeriesData& values, const QVector<double>& drawn_keys,
                         const QVector<double>& drawn_values, double lower, double upper, int columns) {
    QVERIFY(std::is_sorted(drawn_keys.begin(), drawn_keys.end()));
    const auto full = column_extents(keys, values, lower, upper, columns);
    const auto drawn = column_extents(drawn_keys, drawn_values, lower, upper, columns);
    for (int c = 0; c < columns; ++c) {
        const QByteArray where = QByteArray("column ") + QByteArray::number(c);
        QVERIFY2(full[size_t(c)].lowest == drawn[size_t(c)].lowest, where);
        QVERIFY2(full[size_t(c)].highest == drawn[size_t(c)].highest, where);
        QVERIFY2(std::isnan(full[size_t(c)].first_key) ? std::isnan(drawn[size_t(c)].first_key)
                                                       : full[size_t(c)].first_key == drawn[size_t(c)].first_key,
                 where);
        QVERIFY2(std::isnan(full[size_t(c)].last_key) ? std::isnan(drawn[size_t(c)].last_key)
                                                      : full[size_t(c)].last_key == drawn[size_t(c)].last_key,
                 where);
    }
}

QStringList tick_labels(QCPAxis* axis) {
    axis->parentPlot()->replot();
    return axis->tickVectorLabels().toList();
}

}  // namespace

class PlotsTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    // A random walk with gaps, decimated over its whole range and a zoomed one.
    void decimation_keeps_every_columns_extremes_and_ends() {
        std::srand(5);
        SeriesData keys, values;
        double walk = 0;
        for (int i = 0; i < 20000; ++i) {
            keys.push_back(i + (i > 9000 ? 500 : 0));  // a stretch without steps
            walk += std::rand() / double(RAND_MAX) - 0.5;
            values.push_back(i % 997 == 0 ? std::numeric_limits<double>::quiet_NaN() : walk);
        }
        QVector<double> drawn_keys, drawn_values;
        for (const auto [lower, upper, columns] : {std::tuple{0.0, 20500.0, 300}, std::tuple{1234.5, 4321.0, 97}}) {
            decimate_min_max(keys, values, lower, upper, columns, drawn_keys, drawn_values);
            QVERIFY(drawn_keys.size() <= 5 * columns + 2);
            verify_columns_kept(keys, values, drawn_keys, drawn_values, lower, upper, columns);
            // The neighbours outside the view are drawn, so lines leave it as the full line does.
            QVERIFY(drawn_keys.front() < lower || drawn_keys.front() == keys.front());
            QVERIFY(drawn_keys.back() >= upper || drawn_keys.back() == keys.back());
            // A gap of the full data stays a gap.
            QVERIFY(std::any_of(drawn_values.begin(), drawn_values.end(), [](double v) { return std::isnan(v); }));
        }
        // A series of at most four points a column is drawn whole, whatever the view.
        const SeriesData few_keys(keys.begin(), keys.begin() + 400), few(values.begin(), values.begin() + 400);
        decimate_min_max(few_keys, few, 100, 200, 100, drawn_keys, drawn_values);
        QCOMPARE(drawn_keys.size(), 400);
        QCOMPARE(drawn_keys.back(), few_keys.back());
    }

    // A long run is drawn decimated to the plot's columns and decimated again when zoomed.
    void time_plots_draw_long_runs_decimated() {
        TraceStore store = record(small_spec("linear"), 3000);
        OutputPlot plot;
        plot.setStores(&store);
        plot.resize(500, 300);
        plot.show();
        QVERIFY(QTest::qWaitForWindowExposed(&plot));
        plot.rebuild();
        plot.refresh();
        SeriesData keys, values;
        for (const StepRecord& r : store.records()) {
            keys.push_back(double(r.step));
            values.push_back(r.output[0]);
        }
        QCPGraph* graph = plot.currentGraphs().at(0);
        for (int zoom = 0; zoom < 2; ++zoom) {
            if (zoom) plot.plot()->xAxis->setRange(700.5, 1900);  // as a wheel zoom leaves it
            plot.refresh();
            const QCPRange x = plot.plot()->xAxis->range();
            const int columns = std::max(plot.plot()->axisRect()->width(), 200);
            QVector<double> drawn_keys, drawn_values;
            for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it) {
                drawn_keys.push_back(it->key);
                drawn_values.push_back(it->value);
            }
            QVERIFY2(drawn_keys.size() < 3000 && drawn_keys.size() <= 5 * columns + 2,
                     qPrintable(QString::number(drawn_keys.size())));
            verify_columns_kept(keys, values, drawn_keys, drawn_values, x.lower, x.upper, columns);
        }
        // Every step is still there for the CSV and the hover read-out.
        QCOMPARE(plot.csv().count('\n'), 3001);
    }

    // The heatmap's caption in a narrow plot: lines broken between words to fit, no word lost.
    void captions_wrap_to_the_width_given() {
        QFont font;
        font.setPointSizeF(7.5);
        const QString text =
            "linear attention: implicit weights\nkeys kept while observed, from step 1\nrows need not be sparse";
        const int width = QFontMetrics(font).horizontalAdvance("keys kept while observed,") + 1;
        const QString wrapped = wrap_to_width(text, font, width);
        QVERIFY(wrapped.split('\n').size() > text.split('\n').size());
        for (const QString& line : wrapped.split('\n'))
            QVERIFY2(QFontMetrics(font).horizontalAdvance(line) <= width || !line.contains(' '), qPrintable(line));
        QCOMPARE(wrapped.split(QRegularExpression("\\s+")), text.split(QRegularExpression("\\s+")));
        QCOMPARE(wrap_to_width(text, font, 10000), text);
    }

    // A plot with nothing to draw (the spectrum before its layer was looked inside) keeps its whole
    // width: an empty legend no longer caps the axes at the title's width.
    void an_empty_plot_keeps_its_width() {
        TraceStore store = record(small_spec("linear"), 3);
        SpectrumPlot plot;
        plot.setStores(&store);
        plot.resize(700, 400);
        plot.show();
        QVERIFY(QTest::qWaitForWindowExposed(&plot));
        plot.rebuild();
        plot.setViewStep(3);
        plot.refresh();
        plot.plot()->replot();
        QCOMPARE(plot.headsShown(), 0);
        QVERIFY2(plot.plot()->axisRect()->width() > plot.plot()->width() / 2,
                 qPrintable(QString("axes %1 of %2").arg(plot.plot()->axisRect()->width()).arg(plot.plot()->width())));
    }

    void log_tick_labels_are_plain_or_powers_of_ten() {
        QCOMPARE(log_tick_label(50), QString("50"));
        QCOMPARE(log_tick_label(0.5), QString("0.5"));
        QCOMPARE(log_tick_label(1e-5), QString("10⁻⁵"));
        QCOMPARE(log_tick_label(2e-6), QString("2·10⁻⁶"));
        QCOMPARE(log_tick_label(1e6), QString("10⁶"));
    }

    void log_axes_label_every_range_once_and_below_ten() {
        QCustomPlot plot;
        plot.resize(400, 300);
        plot.yAxis->setScaleType(QCPAxis::stLogarithmic);
        plot.yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new LogTicker));
        for (const QCPRange& range : {QCPRange(0.5, 30), QCPRange(3, 8), QCPRange(1e-6, 1), QCPRange(2, 4000)}) {
            plot.yAxis->setRange(range);
            const QStringList labels = tick_labels(plot.yAxis);
            QVERIFY2(labels.size() >= 2, qPrintable(labels.join(' ')));
            QCOMPARE(QSet<QString>(labels.begin(), labels.end()).size(), labels.size());
            for (const QString& label : labels) QVERIFY2(!label.contains("·10¹"), qPrintable(label));
        }
        plot.yAxis->setRange(0.5, 30);
        const QStringList labels = tick_labels(plot.yAxis);
        QVERIFY2(labels.contains("1") && labels.contains("5") && labels.contains("20"), qPrintable(labels.join(' ')));
    }

    void heatmap_ends_differ_from_the_masked_white() {
        QCPColorGradient gradient = viridis_gradient();
        const QColor low = QColor::fromRgb(gradient.color(0, QCPRange(0, 1)));
        const QColor high = QColor::fromRgb(gradient.color(1, QCPRange(0, 1)));
        for (const QColor& end : {low, high}) QVERIFY(end.lightnessF() < 0.9);
        QVERIFY(low != high);
        AttentionPlot plot;
        TraceStore store = record(small_spec("full"), 5);
        plot.setStores(&store);
        plot.rebuild();
        plot.setViewStep(5);
        plot.refresh();
        QCOMPARE(plot.rowsShown(), 5);
        QCPColorScale* scale = nullptr;
        for (QCPLayoutElement* element : plot.plot()->plotLayout()->elements(true))
            if (auto* found = qobject_cast<QCPColorScale*>(element)) scale = found;
        QVERIFY(scale);
        QCPColorGradient shown = scale->gradient();
        const QColor one = QColor::fromRgb(shown.color(1.0, scale->dataRange(), true));
        QVERIFY2(one.lightnessF() < 0.9, qPrintable(one.name()));
        QVERIFY(plot.csv().startsWith("query step\\key step,"));
    }

    void heatmap_forgets_memory_label_for_an_encoder() {
        AttentionPlot plot;
        SessionSpec decoder = small_spec("full");
        decoder.config.kind = ModelKind::Decoder;
        decoder.config.self_attention_type = "linear";
        decoder.config.cross_attention_type = "full";
        TraceStore store = record(decoder, 3);
        plot.setStores(&store);
        plot.rebuild();
        plot.setViewStep(3);
        plot.refresh();
        QCOMPARE(plot.keyLabel(), QString("memory element"));
        store = record(small_spec("linear"), 3);
        plot.rebuild();
        plot.refresh();
        QCOMPARE(plot.keyLabel(), QString("key step"));
    }

    void memory_axis_fits_a_small_model() {
        TraceStore store = record(small_spec("linear"), 8);
        const double bytes = double(store.records().back().state_bytes);
        QVERIFY(bytes < 1024 * 1024);
        PerformancePlot plot;
        plot.resize(600, 400);
        plot.setStores(&store);
        plot.rebuild();
        plot.refresh();
        QVERIFY(plot.memoryUnit() == "KiB" || plot.memoryUnit() == "B");
        const double shown = plot.memoryUnit() == "KiB" ? bytes / 1024 : bytes;
        const QCPRange range = plot.plot()->yAxis2->range();
        QVERIFY2(range.upper >= shown && range.upper <= shown * 1.5,
                 qPrintable(QString("%1 .. %2 for %3").arg(range.lower).arg(range.upper).arg(shown)));
    }

    void empty_plots_forget_the_previous_range() {
        TraceStore store = record(small_spec("linear"), 6);
        OutputPlot plot;
        plot.setStores(&store);
        plot.rebuild();
        plot.refresh();
        QVERIFY(plot.plot()->yAxis->range() != QCPRange(0, 1));
        store.start(store.info());
        plot.rebuild();
        plot.refresh();
        QCOMPARE(plot.plot()->yAxis->range(), QCPRange(0, 1));
    }

    void titles_elide_at_their_end_and_legends_wrap() {
        TraceStore store = record(small_spec("full"), 4);
        StatePlot plot;
        plot.setStores(&store);
        plot.resize(900, 300);
        plot.show();
        QVERIFY(QTest::qWaitForWindowExposed(&plot));
        plot.rebuild();
        plot.refresh();
        // As a narrow window or a small export lays it out.
        fit_decorations(plot.plot(), 220, 300);
        QVERIFY(plot.shownTitle() != plot.fullTitle());
        QVERIFY(plot.shownTitle().startsWith("Attention-state"));
        QVERIFY(plot.shownTitle().endsWith(QChar(0x2026)));
        plot.resize(901, 300);
        QTest::qWait(50);
        QCOMPARE(plot.shownTitle(), plot.fullTitle());
        // Two heads side by side in one row, below the axes.
        QCOMPARE(plot.plot()->legend->rowCount(), 1);
        QVERIFY(plot.plot()->legend->outerRect().top() >= plot.plot()->axisRect()->outerRect().bottom());
    }

    void legend_click_hides_and_shows_its_curve() {
        TraceStore store = record(small_spec("linear"), 10);
        OutputPlot plot;
        plot.setStores(&store);
        plot.resize(700, 400);
        plot.show();
        QVERIFY(QTest::qWaitForWindowExposed(&plot));
        plot.rebuild();
        plot.refresh();
        plot.plot()->replot();
        QCPGraph* graph = plot.currentGraphs().at(1);
        QCPPlottableLegendItem* entry = plot.plot()->legend->itemWithPlottable(graph);
        QVERIFY(entry);
        const QPoint where = entry->outerRect().center();
        QTest::mouseClick(plot.plot(), Qt::LeftButton, {}, where);
        QVERIFY(!graph->visible());
        plot.plot()->replot();
        QTest::mouseClick(plot.plot(), Qt::LeftButton, {}, where);
        QVERIFY(graph->visible());
    }

    void hover_and_cursor_tell_step_series_and_value() {
        TraceStore store = record(small_spec("linear"), 20);
        OutputPlot plot;
        plot.setStores(&store);
        plot.resize(700, 400);
        plot.rebuild();
        plot.refresh();
        plot.plot()->replot();
        QCPGraph* graph = plot.currentGraphs().at(0);
        const auto point = graph->data()->at(9);
        const QPoint at(int(plot.plot()->xAxis->coordToPixel(point->key)),
                        int(plot.plot()->yAxis->coordToPixel(point->value)));
        const QString text = plot.hoverText(at);
        QVERIFY2(text.contains(QString("step %1").arg(qint64(point->key))), qPrintable(text));
        QVERIFY2(text.contains(graph->name()), qPrintable(text));
        QVERIFY(plot.hoverText(QPoint(1, 1)).isEmpty());
        QVERIFY(plot.cursorText().isEmpty());  // at the last step the cursor is hidden
        plot.setViewStep(7);
        const QString cursor = plot.cursorText();
        QVERIFY2(cursor.startsWith("step 7"), qPrintable(cursor));
        const double value = store.at_step(7)->output[0];
        QVERIFY2(cursor.contains(QLocale::c().toString(value, 'g', 6)), qPrintable(cursor));
    }

    void smoothing_draws_the_average_over_faint_raw_values() {
        TraceStore store = record(small_spec("linear"), 30);
        OutputPlot plot;
        plot.setStores(&store);
        plot.rebuild();
        const int raw_graphs = plot.plot()->graphCount();
        plot.setSmoothing(0.9);
        QCOMPARE(plot.plot()->graphCount(), 2 * raw_graphs);
        QCPGraph* raw = plot.currentGraphs().at(0);
        QVERIFY(raw->pen().color().alpha() < 255);
        QVERIFY(!raw->parentPlot()->legend->itemWithPlottable(raw));
        // The first smoothed value is the first raw value (bias-corrected), later ones differ.
        QCPGraph* smooth = nullptr;
        for (int i = 0; i < plot.plot()->graphCount(); ++i)
            if (plot.plot()->legend->itemWithPlottable(plot.plot()->graph(i))) {
                smooth = plot.plot()->graph(i);
                break;
            }
        QVERIFY(smooth);
        QCOMPARE(smooth->data()->at(0)->value, raw->data()->at(0)->value);
        QVERIFY(smooth->data()->at(20)->value != raw->data()->at(20)->value);
        plot.setSmoothing(0);
        QCOMPARE(plot.plot()->graphCount(), raw_graphs);
    }

    void non_finite_values_are_marked_and_named() {
        auto session = Session::open(small_spec("linear"));
        TraceStore store;
        store.start(session->info());
        std::vector<BatchRecord> records;
        for (int t = 0; t < 6; ++t) records.push_back(session->advance());
        // Non-finite values in the batch element the plots show.
        const size_t shown = size_t(session->info().observed);
        const size_t heads = records[3].layers[1].self.first.size() / size_t(records[3].batch);
        records[3].layers[1].self.first[shown * heads] = std::numeric_limits<float>::quiet_NaN();
        records[4].outputs[shown * size_t(records[4].width())] = std::numeric_limits<float>::infinity();
        store.append(records);
        PlotPanel panel(&store);
        QSignalSpy message(&panel, &PlotPanel::message);
        panel.rebuildAll();
        QCOMPARE(message.size(), 1);
        const QString text = message.first().at(0).toString();
        QVERIFY2(text.contains("step 4") && text.contains("layer 1"), qPrintable(text));
        QCOMPARE(panel.outputs()->firstNonFinite(), std::optional<int64_t>(5));
        panel.states()->select(AttentionRole::Self, 1, StatePlot::Quantity::First);
        QCOMPARE(panel.states()->firstNonFinite(), std::optional<int64_t>(4));
    }

    void every_time_plot_has_a_log_scale_and_csv() {
        TraceStore store = record(small_spec("full"), 5);
        PlotPanel panel(&store);
        panel.rebuildAll();
        for (TimePlot* plot : {static_cast<TimePlot*>(panel.outputs()), static_cast<TimePlot*>(panel.states()),
                               static_cast<TimePlot*>(panel.performance())}) {
            plot->setLogScale(true);
            QCOMPARE(plot->plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
            const QStringList lines = plot->csv().split('\n', Qt::SkipEmptyParts);
            QCOMPARE(lines.size(), 1 + 5);
            QVERIFY(lines.first().startsWith("step,"));
        }
    }

    void large_exports_are_larger_figures() {
        QCOMPARE(export_scale(1200, 800), 1.0);
        QVERIFY(std::abs(export_scale(4000, 3000) - 4000 / 1200.0) < 1e-9);
        TraceStore store = record(small_spec("full"), 5);
        PlotPanel panel(&store);
        panel.resize(1200, 800);
        panel.rebuildAll();
        panel.setViewStep(5);
        panel.refreshNow();
        const QString small = dir_.filePath("small.png"), large = dir_.filePath("large.png");
        save_plot(panel.outputs()->plot(), small, 1200, 800);
        save_plot(panel.outputs()->plot(), large, 4000, 3000);
        const QImage big(large);
        QCOMPARE(big.size(), QSize(4000, 3000));
        QCOMPARE(big.dotsPerMeterX(), int(std::lround(96.0 * export_scale(4000, 3000) / 0.0254)));
        // The title's ink is as many times taller as the figure is scaled.
        auto ink_rows = [](const QImage& image, int rows) {
            int first = -1, last = -1;
            for (int y = 0; y < rows; ++y)
                for (int x = 0; x < image.width(); ++x)
                    if (qGray(image.pixel(x, y)) < 128) {
                        if (first < 0) first = y;
                        last = y;
                        break;
                    }
            return last - first;
        };
        const int small_title = ink_rows(QImage(small), 30);
        const int large_title = ink_rows(big, 100);
        const double ratio = double(large_title) / small_title;
        QVERIFY2(ratio > 0.8 * export_scale(4000, 3000) && ratio < 1.25 * export_scale(4000, 3000),
                 qPrintable(QString("%1 vs %2").arg(large_title).arg(small_title)));
    }

    void svg_export_and_no_placeholder_heatmap() {
        HeadlessExport job;
        job.spec = small_spec("linear");
        job.steps = 4;
        job.directory = dir_.filePath("svg");
        job.format = "svg";
        const QStringList written = run_headless_export(job);
        // Linear attention's heatmap is its implicit map, looked inside for the export: a figure.
        QFile heatmap(QDir(job.directory).filePath("attention.svg"));
        QVERIFY(heatmap.open(QIODevice::ReadOnly));
        QVERIFY(heatmap.readAll().contains("implicit weight"));
        QFile svg(QDir(job.directory).filePath("outputs.svg"));
        QVERIFY(svg.open(QIODevice::ReadOnly));
        const QByteArray text = svg.readAll();
        QVERIFY(text.contains("<svg"));
        QVERIFY(text.contains("Outputs over time"));
        // The four plots, linear attention's spectrum and capacity, the head grid (the looked-inside
        // layer's implicit weights), then traces, snapshot and session.
        QCOMPARE(written.size(), 7 + 3);
        QVERIFY(QFileInfo::exists(QDir(job.directory).filePath("head_grid.svg")));
    }

private:
    QTemporaryDir dir_;
};

QTEST_MAIN(PlotsTest)
#include "test_ui_plots.moc"
