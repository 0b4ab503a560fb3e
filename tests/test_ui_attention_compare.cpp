// The heatmap of two runs: the other run's map on the viewed map's colour scale, their difference cell for cell,
// and one line instead of a map where the other run has none to compare.
#include <QDir>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QtTest>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "plots/attention_compare.h"
#include "plots/attention_plot.h"
#include "session/session.h"
#include "session/trace_store.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

// The weight `store` recorded of layer 0, self attention, head `head` at query `step` for cache index `key`, or NaN.
double recorded_weight(const TraceStore& store, int64_t step, int head, int key) {
    const std::optional<StepRecord> r = store.at_step(step);
    if (!r) return std::nan("");
    for (const AttentionRows& a : r->attention)
        if (a.layer == 0 && a.role == AttentionRole::Self && key >= a.first_key && key < a.first_key + a.keys)
            return a.weights[size_t(head) * size_t(a.keys) + size_t(key - a.first_key)];
    return std::nan("");
}

SessionSpec seeded(const std::string& attention, int weights_seed) {
    SessionSpec spec = small_spec(attention);
    spec.weights_seed = weights_seed;
    return spec;
}

// A run of `spec` observing layer 0 of its shown element from its first step, maps over the newest `keys` keys
// (0: every key held).
TraceStore observed_record(const SessionSpec& spec, int steps, int keys = 0) {
    ObservationOptions what;
    what.layers = {0};
    what.attention = true;
    what.batch_element = spec.observed;
    what.attention_keys = keys;
    return record(spec, steps, what);
}

// `plot` drawing `viewed` with `others` shown beside it, at step `step`.
void show(AttentionPlot& plot, const TraceStore& viewed, std::vector<RunOverlay> others, int64_t step) {
    plot.setStores(&viewed, std::move(others), QStringLiteral("run 1: full, seed 7"));
    plot.resize(1200, 500);
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    plot.rebuild();
    plot.setViewStep(step);
    plot.refresh();
    plot.plot()->replot();
}

}  // namespace

class AttentionCompareTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    // Two models on one input: the other's map shares the viewed map's scale; the difference is the two subtracted.
    void the_difference_is_the_two_maps_subtracted_on_one_colour_scale() {
        const TraceStore viewed = record(seeded("full", 7), 6), other = record(seeded("full", 8), 6);
        AttentionPlot plot;
        show(plot, viewed, {{&other, "run 2: full, seed 8", Qt::red, false}}, 6);
        QCOMPARE(plot.comparedWith(), 0);  // the one run shown
        const ComparedMaps& maps = plot.comparedMaps();
        QVERIFY(maps.shown());
        QVERIFY(plot.compareLine().isEmpty());
        QCOMPARE(plot.rowsShown(), 6);
        const int columns = int(plot.differenceCells().size()) / plot.rowsShown();
        QCOMPARE(columns, 6);
        QCOMPARE(plot.otherCells().size(), plot.differenceCells().size());
        double largest = 0;
        int compared = 0;
        for (int q = 0; q < plot.rowsShown(); ++q)
            for (int k = 0; k < columns; ++k) {
                const int64_t step = 1 + q;
                const double a = recorded_weight(viewed, step, 0, k);
                const double b = recorded_weight(other, step, 0, k);
                const double d = plot.differenceCells()[size_t(q * columns + k)];
                const double drawn = maps.differenceMap()->data()->cell(k, q);
                QCOMPARE(std::isnan(d), std::isnan(a) || std::isnan(b));
                QCOMPARE(std::isnan(drawn), std::isnan(d));
                if (std::isnan(d)) continue;
                QCOMPARE(d, a - b);
                QCOMPARE(drawn, d);
                QCOMPARE(maps.otherMap()->data()->cell(k, q), b);
                QCOMPARE(plot.colourMap()->data()->cell(k, q), a);
                largest = std::max(largest, std::abs(d));
                ++compared;
            }
        QCOMPARE(compared, 6 * 7 / 2);  // the causal lower triangle
        QVERIFY(largest > 1e-4);        // two models' weights differ
        // One colour scale for both maps, over both maps' weights; the difference on its own, centred at 0.
        QCOMPARE(maps.otherMap()->colorScale(), plot.colourScale());
        QCOMPARE(maps.otherMap()->dataRange(), plot.colourMap()->dataRange());
        QCOMPARE(maps.otherMap()->dataScaleType(), plot.colourMap()->dataScaleType());
        const QCPRange range = plot.colourScale()->dataRange();
        for (const std::vector<double>* cells : {&plot.otherCells()})
            for (double w : *cells)
                if (!std::isnan(w))
                    QVERIFY2(w >= range.lower * (1 - 1e-12) && w <= range.upper * (1 + 1e-12),
                             qPrintable(QString::number(w)));
        const QCPRange diverging = maps.differenceScale()->dataRange();
        QCOMPARE(diverging.lower, -diverging.upper);
        QCOMPARE(diverging.upper, largest);
        QVERIFY2(maps.differenceScale()->axis()->label().contains("run 1 − run 2"),
                 qPrintable(maps.differenceScale()->axis()->label()));
        QVERIFY(plot.fullTitle().contains("run 1 against run 2"));
        // Every map in view and laid out side by side.
        QVERIFY(maps.otherAxes()->visible() && maps.differenceAxes()->visible());
        QVERIFY(maps.otherAxes()->rect().left() > plot.plot()->axisRect()->rect().right());
        QVERIFY(maps.differenceAxes()->rect().left() > maps.otherAxes()->rect().right());
        QCOMPARE(maps.otherAxes()->axis(QCPAxis::atBottom)->range(), plot.plot()->xAxis->range());
        // The wheel over the difference map zooms the viewed map's axes, and the other maps follow them.
        const QCPRange before = plot.plot()->xAxis->range();
        const QPointF centre = maps.differenceAxes()->rect().center();
        QWheelEvent wheel(centre, plot.plot()->mapToGlobal(centre), QPoint(), QPoint(0, 120), Qt::NoButton,
                          Qt::NoModifier, Qt::NoScrollPhase, false);
        QApplication::sendEvent(plot.plot(), &wheel);
        plot.plot()->replot();
        QVERIFY(plot.plot()->xAxis->range().size() < before.size());
        QCOMPARE(maps.otherAxes()->axis(QCPAxis::atBottom)->range(), plot.plot()->xAxis->range());
        QCOMPARE(maps.differenceAxes()->axis(QCPAxis::atLeft)->range(), plot.plot()->yAxis->range());
        plot.resetView();

        // No other run: the viewed map alone, as before.
        plot.compareWith(-1);
        plot.refresh();
        plot.plot()->replot();
        QVERIFY(!maps.shown());
        QVERIFY(plot.otherCells().empty() && plot.differenceCells().empty());
        QVERIFY(!maps.otherAxes()->visible());
        QVERIFY(!plot.fullTitle().contains("against"));
    }

    // The parent is the default among several runs shown.
    void the_parent_is_compared_by_default() {
        const TraceStore viewed = record(seeded("full", 7), 4), a = record(seeded("full", 8), 4),
                         b = record(seeded("full", 9), 4);
        AttentionPlot plot;
        show(plot, viewed, {{&a, "run 2", Qt::red, false}, {&b, "run 3", Qt::blue, true}}, 4);
        QCOMPARE(plot.comparedWith(), 1);
        QVERIFY(plot.comparedMaps().shown());
        QCOMPARE(plot.otherCells()[0], recorded_weight(b, 1, 0, 0));
    }

    // Where the other run has no map at the viewed steps, one line says so and nothing else is drawn.
    void a_run_without_a_map_there_is_named_in_one_line() {
        const TraceStore viewed = record(seeded("full", 7), 6);
        const TraceStore shorter = record(seeded("full", 8), 3);
        const TraceStore unobserved = record(seeded("linear", 8), 6);  // linear: implicit weights only while observed
        SessionSpec one_layer_spec = seeded("full", 8);
        one_layer_spec.config.n_layers = 1;
        const TraceStore one_layer = record(one_layer_spec, 6);
        AttentionPlot plot;
        const struct {
            const TraceStore* store;
            int layer;
            const char* said;
            bool computable;  // from the other run's history, on the user's word
        } cases[] = {{&shorter, 0, "run 2 has no record of steps 4 to 6 (it ends at step 3)", false},
                     {&unobserved, 0, "run 2 did not observe layer 0 at steps 1 to 6", true},
                     {&one_layer, 1, "run 2 has no layer 1, head 0", false}};
        for (const auto& c : cases) {
            show(plot, viewed, {{c.store, "run 2: other", Qt::red, true}}, 6);
            plot.select(AttentionRole::Self, c.layer, 0);
            plot.refresh();
            plot.plot()->replot();
            QVERIFY2(plot.compareLine().contains(c.said), qPrintable(plot.compareLine()));
            QVERIFY(!plot.compareLine().contains('\n'));
            QVERIFY(!plot.comparedMaps().shown());
            QVERIFY(plot.otherCells().empty());
            QVERIFY(plot.hasWeights());  // the viewed map stays
            QVERIFY(!plot.comparedMaps().otherAxes()->visible());
            QCOMPARE(plot.computeComparedOffered(), c.computable);
            QVERIFY(plot.missingObservations().empty());  // nothing computed unasked
        }
    }

    // A delta rule's signed weights beside softmax weights: both maps on one linear scale centred at 0.
    void signed_weights_put_both_maps_on_a_scale_centred_at_zero() {
        const TraceStore viewed = record(seeded("full", 7), 30), delta = observed_record(seeded("delta", 8), 30);
        AttentionPlot plot;
        show(plot, viewed, {{&delta, "run 2", Qt::red, true}}, 30);
        QVERIFY2(plot.comparedMaps().shown(), qPrintable(plot.compareLine()));
        QCOMPARE(plot.colourScale()->dataScaleType(), QCPAxis::stLinear);
        QCOMPARE(plot.comparedMaps().otherMap()->dataScaleType(), QCPAxis::stLinear);
        const QCPRange range = plot.colourScale()->dataRange();
        QCOMPARE(range.lower, -range.upper);
        QCOMPARE(plot.comparedMaps().otherMap()->dataRange(), range);
        double reach = 0;
        int negative = 0;
        for (const std::vector<double>* cells : {&plot.otherCells()})
            for (double w : *cells)
                if (!std::isnan(w)) {
                    reach = std::max(reach, std::abs(w));
                    negative += w < 0;
                }
        // The delta rule's overwritten values are drawn, not left blank as a log scale would.
        int recorded_negative = 0;
        for (int64_t step = 1; step <= 30; ++step)
            for (int key = 0; key < step; ++key) recorded_negative += recorded_weight(delta, step, 0, key) < 0;
        QVERIFY(recorded_negative > 0);
        QCOMPARE(negative, recorded_negative);
        QVERIFY(reach <= range.upper);
    }

    // Maps kept over fewer keys (an observation's key window) do not compare cell for cell: said, not drawn.
    void another_number_of_keys_is_named() {
        const TraceStore viewed = observed_record(seeded("linear", 7), 6),
                         windowed = observed_record(seeded("linear", 8), 6, 3);
        AttentionPlot plot;
        show(plot, viewed, {{&windowed, "run 2", Qt::red, true}}, 6);
        QVERIFY2(plot.compareLine().contains("run 2 has another number of keys at step 4"),
                 qPrintable(plot.compareLine()));
        QVERIFY(!plot.comparedMaps().shown());
        // The same observation on both sides compares.
        const TraceStore whole = observed_record(seeded("linear", 8), 6);
        show(plot, viewed, {{&whole, "run 2", Qt::red, true}}, 6);
        QVERIFY2(plot.comparedMaps().shown(), qPrintable(plot.compareLine()));
    }

    // The compared maps go into the exported figure, which is larger than the viewed map alone would need.
    void export_draws_the_compared_maps() {
        const TraceStore viewed = record(seeded("full", 7), 6), other = record(seeded("full", 8), 6);
        AttentionPlot plot;
        show(plot, viewed, {{&other, "run 2", Qt::red, true}}, 6);
        QVERIFY(plot.comparedMaps().shown());
        for (const char* suffix : {"png", "svg", "pdf"}) {
            const QString path = QDir(dir_.path()).filePath(QString("attention.") + suffix);
            plot.saveAs(path, QSize(1600, 600));
            QVERIFY2(QFileInfo(path).size() > 1000, suffix);
        }
        QImage image(QDir(dir_.path()).filePath("attention.png"));
        QCOMPARE(image.size(), QSize(1600, 600));
        // The cell of the largest difference is drawn in the difference's colour, in the right third of the figure.
        const auto& cells = plot.differenceCells();
        size_t at = 0;
        for (size_t i = 0; i < cells.size(); ++i)
            if (!std::isnan(cells[i]) && (std::isnan(cells[at]) || std::abs(cells[i]) > std::abs(cells[at]))) at = i;
        const QCPColorScale* scale = plot.comparedMaps().differenceScale();
        const QRgb colour = scale->gradient().color(cells[at], scale->dataRange(), false);
        int found = 0;
        for (int x = image.width() * 2 / 3; x < image.width(); ++x)
            for (int y = 0; y < image.height(); ++y) found += (image.pixel(x, y) & 0xffffff) == (colour & 0xffffff);
        QVERIFY2(found > 100, qPrintable(QString::number(found)));
    }

private:
    QTemporaryDir dir_;
};

QTEST_MAIN(AttentionCompareTest)
#include "test_ui_attention_compare.moc"
