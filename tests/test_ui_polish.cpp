// The explorer's polish (issue 24): labelled colour bars, first steps drawn, cursor boxes, step functions
// left unsmoothed, integer spectra, quantities per kind, colours past ten, time-only zoom and linked axes,
// CSV headers, empty-branch hints, skipped exports, stale banners, strict spin boxes, progress, recent
// files, shortcuts and usage.
#include <QComboBox>
#include <QFile>
#include <QImageReader>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QTabBar>
#include <QTabWidget>
#include <QtTest>
#include <qcustomplot.h>

#include <set>

#include "export_controller.h"
#include "gui_script.h"
#include "input_panel.h"
#include "main_window.h"
#include "model_panel.h"
#include "plots/attention_plot.h"
#include "plots/capacity_plot.h"
#include "plots/divergence_plot.h"
#include "plots/head_grid_plot.h"
#include "plots/heatmap_animation.h"
#include "plots/output_plot.h"
#include "plots/performance_plot.h"
#include "plots/plot_panel.h"
#include "plots/plot_style.h"
#include "plots/state_plot.h"
#include "plots/token_view.h"
#include "session/session.h"
#include "session/trace_store.h"
#include "session_io.h"
#include "step_controls.h"
#include "strict_spin_box.h"
#include "ui_test_support.h"
#include "window_commands.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

QStringList tick_labels(QCPAxis* axis) {
    axis->parentPlot()->replot();
    return axis->tickVectorLabels().toList();
}

const QString kGoldenModel = QStringLiteral(STEPSCOPE_GOLDEN_DIR "/enc_linear/model.safetensors");

}  // namespace

class PolishTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
        QVERIFY(dir_.isValid());
    }

    // 1. A range too narrow for the ticks' spacing is labelled at its ends, with digits that differ.
    void narrow_colour_ranges_are_labelled() {
        QCustomPlot plot;
        plot.resize(400, 300);
        plot.yAxis->setScaleType(QCPAxis::stLogarithmic);
        plot.yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new LogTicker));
        plot.yAxis->setRange(1 / 19750.0, 1 / 19500.0);
        QStringList labels = tick_labels(plot.yAxis);
        QVERIFY2(labels.size() >= 2, qPrintable(labels.join(' ')));
        QCOMPARE(QSet<QString>(labels.begin(), labels.end()).size(), labels.size());
        plot.yAxis->setScaleType(QCPAxis::stLinear);
        plot.yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new EndsTicker));
        plot.yAxis->setRange(0.5, 0.5000001);
        labels = tick_labels(plot.yAxis);
        QVERIFY2(labels.size() >= 2, qPrintable(labels.join(' ')));
        QCOMPARE(QSet<QString>(labels.begin(), labels.end()).size(), labels.size());
        // A log range of under a decade gets three labels or more, not "1" and "2" alone.
        plot.yAxis->setScaleType(QCPAxis::stLogarithmic);
        plot.yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new LogTicker));
        plot.yAxis->setRange(0.9, 2.6);
        labels = tick_labels(plot.yAxis);
        QVERIFY2(labels.size() >= 3, qPrintable(labels.join(' ')));
    }

    // 1, 2. The heatmap offers a linear colour scale; one step is one drawn cell with a range around it.
    void first_steps_are_drawn() {
        TraceStore store = record(small_spec("full"), 1);
        AttentionPlot map;
        map.setStores(&store);
        map.resize(500, 400);
        map.rebuild();
        map.setViewStep(1);
        map.refresh();
        QVERIFY(map.hasWeights());
        QCOMPARE(map.colourMap()->data()->keySize(), 2);  // the one cell, held twice so QCustomPlot draws it
        const QCPRange range = map.colourScale()->dataRange();
        QVERIFY2(range.lower < 1 && range.upper > 1, qPrintable(QString("%1 %2").arg(range.lower).arg(range.upper)));
        QVERIFY(map.csv().split('\n', Qt::SkipEmptyParts).size() == 2);
        map.setLogColours(false);
        map.refresh();
        QCOMPARE(map.colourScale()->dataScaleType(), QCPAxis::stLinear);
        map.setLogColours(true);

        OutputPlot outputs;
        outputs.setStores(&store);
        outputs.rebuild();
        outputs.refresh();
        QCOMPARE(outputs.currentGraphs().at(0)->scatterStyle().shape(), QCPScatterStyle::ssDisc);
        TraceStore longer = record(small_spec("full"), 3);
        outputs.setStores(&longer);
        outputs.rebuild();
        QCOMPARE(outputs.currentGraphs().at(0)->scatterStyle().shape(), QCPScatterStyle::ssNone);
    }

    // 3. The note over an empty map wraps to the axes' width, and the caption is a line under the map.
    void heatmap_texts_fit_their_width() {
        TraceStore store = record(small_spec("linear"), 4);
        AttentionPlot map;
        map.setStores(&store);
        map.resize(300, 300);
        map.show();
        QVERIFY(QTest::qWaitForWindowExposed(&map));
        map.rebuild();
        map.setViewStep(4);
        map.refresh();
        map.plot()->replot();
        map.plot()->replot();
        QVERIFY(!map.noteText().isEmpty());
        const QFontMetrics metrics(map.plot()->font());
        for (const QString& line : map.shownNote().split('\n'))
            QVERIFY2(metrics.horizontalAdvance(line) <= map.plot()->axisRect()->width(), qPrintable(line));
        // The hidden colour bar leaves its column to the note's axes, and comes back with weights.
        QVERIFY(!map.colourScale()->layout());
        QVERIFY(map.plot()->axisRect()->width() > map.plot()->width() * 7 / 10);
        TraceStore full = record(small_spec("full"), 4);
        map.setStores(&full);
        map.rebuild();
        map.refresh();
        map.plot()->replot();
        QVERIFY(map.hasWeights());
        QVERIFY(map.colourScale()->layout() && map.colourScale()->visible());
    }

    // 4. The cursor's values: an opaque box inside the axes, one line per head in columns if need be.
    void cursor_values_sit_in_an_opaque_box() {
        SessionSpec spec = small_spec("linear");
        spec.config.n_heads = 12;
        TraceStore store = record(spec, 30);
        StatePlot plot;
        plot.setStores(&store);
        plot.resize(520, 260);
        plot.show();
        QVERIFY(QTest::qWaitForWindowExposed(&plot));
        plot.rebuild();
        plot.refresh();
        plot.plot()->replot();
        plot.setViewStep(25);
        plot.refresh();
        plot.plot()->replot();
        QCOMPARE(plot.cursorText().split('\n').size(), 13);
        const QRect box = plot.cursorBox();
        QVERIFY(!box.isEmpty());
        const QRect axes = plot.plot()->axisRect()->rect();
        QVERIFY2(axes.contains(box), qPrintable(QString("box %1,%2 %3x%4 in %5,%6 %7x%8")
                                                    .arg(box.x())
                                                    .arg(box.y())
                                                    .arg(box.width())
                                                    .arg(box.height())
                                                    .arg(axes.x())
                                                    .arg(axes.y())
                                                    .arg(axes.width())
                                                    .arg(axes.height())));
        const QImage image = plot.cursorPixmap().toImage();
        QCOMPARE(qAlpha(image.pixel(image.width() / 2, image.height() / 2)), 255);
        // A swatch of head 0's colour on its line.
        bool swatch = false;
        for (int x = 0; x < 20 && !swatch; ++x)
            for (int y = 0; y < image.height() && !swatch; ++y) swatch = QColor(image.pixel(x, y)) == series_color(0);
        QVERIFY(swatch);
    }

    // 5. Smoothing leaves step functions (state memory, cache length) as they are.
    void smoothing_leaves_step_functions_alone() {
        TraceStore store = record(small_spec("full"), 12);
        PerformancePlot plot;
        plot.setStores(&store);
        plot.rebuild();
        QCOMPARE(plot.plot()->graphCount(), 2);
        plot.setSmoothing(0.9);
        QCOMPARE(plot.plot()->graphCount(), 3);  // latency raw + smoothed, memory raw only
    }

    // 6. Symlog draws signed values on one axis: the graphs hold sign(y)·log10(1 + |y|/c).
    void symlog_draws_signed_values() {
        TraceStore store = record(small_spec("linear"), 20);
        OutputPlot plot;
        plot.setStores(&store);
        plot.resize(600, 400);
        plot.rebuild();
        plot.setScale(TimePlot::Scale::Symlog);
        plot.refresh();
        const double v = store.at_step(3)->output[0];
        const double drawn = plot.currentGraphs().at(0)->data()->at(2)->value;
        QVERIFY(std::abs(drawn - plot.shownValue(plot.plot()->yAxis, v)) < 1e-12);
        QVERIFY(std::abs(symlog_inverse(symlog(-3.5, 0.01), 0.01) + 3.5) < 1e-12);
        QVERIFY(!tick_labels(plot.plot()->yAxis).isEmpty());
        plot.setScale(TimePlot::Scale::Linear);
        QCOMPARE(plot.currentGraphs().at(0)->data()->at(2)->value, v);
    }

    // 26. The batch band: the mean of every element, between their least and greatest values.
    void batch_band_draws_mean_and_spread() {
        TraceStore store = record(small_spec("linear"), 10);  // batch 3
        OutputPlot plot;
        plot.setStores(&store);
        plot.rebuild();
        QVERIFY(plot.bandGraphs().empty());
        plot.setBand(TimePlot::Band::MinMax);
        QCOMPARE(plot.bandGraphs().size(), plot.currentGraphs().size());
        const BatchRecord& b = store.batch_records()[4];
        const int width = b.width();
        std::vector<double> values;
        for (int n = 0; n < b.batch; ++n) values.push_back(b.outputs[size_t(n * width)]);
        const double mean = (values[0] + values[1] + values[2]) / 3;
        // Plots keep their series in floats, as the traces keep them (decimation.h).
        QCOMPARE(plot.currentGraphs().at(0)->data()->at(4)->value, double(float(mean)));
        QCOMPARE(plot.bandGraphs()[0].first->data()->at(4)->value, *std::min_element(values.begin(), values.end()));
        QCOMPARE(plot.bandGraphs()[0].second->data()->at(4)->value, *std::max_element(values.begin(), values.end()));
        const QString header = plot.csv().section('\n', 0, 0);
        QVERIFY2(header.contains("y[0] (batch mean)") && header.contains("y[0] (batch min)"), qPrintable(header));
        QVERIFY(plot.fullTitle().contains("mean of the batch"));
        plot.setBand(TimePlot::Band::Element);
        QVERIFY(plot.bandGraphs().empty());
    }

    // 27. The head grid: a thumbnail per layer and head; a click opens that head in the heatmap.
    void head_grid_opens_a_head() {
        MainWindow window(small_spec("full"));
        window.resize(1400, 900);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->step(6);
        QVERIFY(wait_idle(*window.controller()));
        PlotPanel* panel = window.plotPanel();
        panel->showView(panel->headGrid());
        panel->refreshNow();
        HeadGridPlot* grid = panel->headGrid();
        grid->plot()->replot();
        QCOMPARE(grid->thumbnailsShown(), 2 * 2);
        QVERIFY(!grid->csv().isEmpty());
        // The thumbnail of layer 1, head 1 is the lower right one.
        QCustomPlot* p = grid->plot();
        const QPoint lower_right(int(p->xAxis->coordToPixel(p->xAxis->range().upper - 1)),
                                 int(p->yAxis->coordToPixel(p->yAxis->range().upper - 1)));
        QCOMPARE(grid->headAt(lower_right), std::make_pair(1, 1));
        emit grid->headChosen(1, 1);
        panel->refreshNow();
        QVERIFY2(panel->attention()->fullTitle().contains("layer 1, head 1"),
                 qPrintable(panel->attention()->fullTitle()));
    }

    // 28. The heatmap over steps as an animated GIF that Qt reads back frame by frame.
    void heatmap_animation_is_a_gif() {
        MainWindow window(small_spec("full"));
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->step(12);
        QVERIFY(wait_idle(*window.controller()));
        const QString path = dir_.filePath("attention.gif");
        QSignalSpy done(window.exporter(), &ExportController::done);
        window.exporter()->exportAnimation(path, QSize(320, 240));
        QCOMPARE(done.count(), 1);
        QImageReader reader(path);
        QCOMPARE(reader.format(), QByteArray("gif"));
        QCOMPARE(reader.imageCount(), 12);
        QCOMPARE(reader.size(), QSize(320, 240));
        const QImage first = reader.read();
        QVERIFY(!first.isNull());
        // A plot on white: its corner is white, and the map's cells are viridis, not white.
        QCOMPARE(QColor(first.pixel(2, 2)), QColor(Qt::white));
        QCOMPARE(window.plotPanel()->attention()->viewStep(), int64_t(12));
        QVERIFY(!animation_format_available("avi"));
    }

    // 8. State capacity offers only the quantities the run's attention has.
    void capacity_offers_what_the_kind_has() {
        TraceStore store = record(small_spec("linear"), 3);
        CapacityPlot plot;
        plot.setStores(&store);
        plot.rebuild();
        QComboBox* combo = nullptr;
        for (QComboBox* c : plot.findChildren<QComboBox*>())
            if (c->count() == 7) combo = c;
        QVERIFY(combo);
        auto* model = qobject_cast<QStandardItemModel*>(combo->model());
        QVERIFY(model);
        QVERIFY(model->item(int(CapacityPlot::Quantity::EffectiveRank))->isEnabled());
        QVERIFY(!model->item(int(CapacityPlot::Quantity::CacheLength))->isEnabled());
        QVERIFY(!model->item(int(CapacityPlot::Quantity::RowEntropy))->isEnabled());
        QVERIFY(!model->item(int(CapacityPlot::Quantity::ReadBack))->isEnabled());
        TraceStore full = record(small_spec("full"), 3);
        plot.setStores(&full);
        plot.rebuild();
        QVERIFY(model->item(int(CapacityPlot::Quantity::CacheLength))->isEnabled());
        QVERIFY(!model->item(int(CapacityPlot::Quantity::EffectiveRank))->isEnabled());
    }

    // 9. Series colours do not repeat for 32 heads.
    void colours_do_not_repeat() {
        std::set<QRgb> seen;
        for (int i = 0; i < 32; ++i) seen.insert(series_color(i).rgb());
        QCOMPARE(int(seen.size()), 32);
    }

    // 11. Time plots zoom time only, share the steps shown, and reset together; the menu has Reset view.
    void time_axes_zoom_alone_and_link() {
        MainWindow window(small_spec("linear"));
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->step(30);
        QVERIFY(wait_idle(*window.controller()));
        PlotPanel* panel = window.plotPanel();
        panel->refreshNow();
        QCOMPARE(panel->outputs()->wheelZoom(), Qt::Orientations(Qt::Horizontal));
        QVERIFY(panel->timeAxesLinked());
        emit panel->outputs()->keyRangeChosen(QCPRange(5, 12));
        QCOMPARE(panel->states()->plot()->xAxis->range(), QCPRange(5, 12));
        QVERIFY(!panel->states()->isFollowing());
        panel->refreshNow();
        // Zoomed in time, the values fit the steps shown.
        QCOMPARE(panel->states()->plot()->xAxis->range(), QCPRange(5, 12));
        panel->outputs()->resetView();
        QVERIFY(panel->states()->isFollowing());
        QMenu* menu = panel->outputs()->contextMenu();
        QStringList texts;
        for (QAction* action : menu->actions()) texts << action->text();
        QVERIFY2(texts.contains("Reset view") && texts.contains("Save as…"), qPrintable(texts.join(", ")));
        delete menu;
        // Save as writes the size asked for, not the plot's on-screen size.
        const QString path = dir_.filePath("outputs.png");
        panel->outputs()->saveAs(path, QSize(900, 600));
        QCOMPARE(QImage(path).size(), QSize(900, 600));
    }

    // 10. At 1280x720 every tab shows without scrolling and the output's value axis is short.
    void small_window_fits_its_tabs() {
        MainWindow window(small_spec("linear"));
        window.resize(1280, 720);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QVERIFY(wait_idle(*window.controller()));
        QTabWidget* tabs = window.plotPanel()->tabs();
        QVERIFY2(tabs->tabBar()->sizeHint().width() <= tabs->width(),
                 qPrintable(QString("%1 > %2").arg(tabs->tabBar()->sizeHint().width()).arg(tabs->width())));
        QVERIFY(!tabs->isTabVisible(tabs->indexOf(window.plotPanel()->tokens())));
        // A token model's seven tabs fit too.
        tabs->setTabVisible(tabs->indexOf(window.plotPanel()->tokens()), true);
        QVERIFY2(tabs->tabBar()->sizeHint().width() <= tabs->width(),
                 qPrintable(QString("%1 > %2").arg(tabs->tabBar()->sizeHint().width()).arg(tabs->width())));
        QCOMPARE(window.plotPanel()->outputs()->plot()->yAxis->label(), QString("y[d]"));
    }

    // 12, 13. Copy data names the batch element and run of each column, with a float's every digit;
    // the Divergence tab without a branch lists no series and says how to make one.
    void csv_headers_and_empty_divergence() {
        TraceStore store = record(small_spec("linear"), 5);
        TraceStore pinned = record(small_spec("full"), 5);
        OutputPlot plot;
        plot.setStores(&store, {{&pinned, QStringLiteral("run 2: full"), QColor(Qt::red)}});
        plot.rebuild();
        const QString csv = plot.csv();
        const QString header = csv.section('\n', 0, 0);
        QVERIFY2(header.contains("y[0] (batch element 1)"), qPrintable(header));
        QVERIFY2(header.contains("y[0] (batch element 1 of run 2: full)"), qPrintable(header));
        const int column = int(header.split(',').indexOf("y[0] (batch element 1)"));
        QVERIFY(column > 0);
        const QString value = csv.section('\n', 1, 1).section(',', column, column);
        QCOMPARE(value, QLocale::c().toString(double(store.at_step(1)->output[0]), 'g', 9));

        DivergencePlot divergence;
        divergence.setStores(&store);
        divergence.rebuild();
        divergence.refresh();
        QCOMPARE(divergence.plot()->legend->itemCount(), 0);
        QVERIFY2(divergence.shownNote().contains("No branch"), qPrintable(divergence.shownNote()));
    }

    // 14. Export all names the plots it leaves out.
    void export_all_names_what_it_skips() {
        MainWindow window(small_spec("full"));
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->step(3);
        QVERIFY(wait_idle(*window.controller()));
        window.plotPanel()->refreshNow();
        const QStringList skipped = window.plotPanel()->skippedPlots();
        QVERIFY2(skipped.join(';').contains("Divergence"), qPrintable(skipped.join("; ")));
        QVERIFY2(skipped.join(';').contains("Spectrum of S"), qPrintable(skipped.join("; ")));
    }

    // 15, 18. A refusal's banner goes with the next success; the progress bar tells of the last command.
    void stale_messages_go() {
        MainWindow window(small_spec("full"));
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->step(3);
        QVERIFY(wait_idle(*window.controller()));
        Intervention scale;
        scale.kind = InterventionKind::ScaleHead;
        window.controller()->intervene(scale, false);
        QVERIFY(wait_idle(*window.controller()));
        QVERIFY2(window.errorText().contains("Intervention refused"), qPrintable(window.errorText()));
        // The refusal names the step it was asked at, the viewed one.
        QVERIFY2(window.errorText().contains("at step 3"), qPrintable(window.errorText()));
        window.controller()->step(2);
        QVERIFY(wait_idle(*window.controller()));
        QVERIFY2(window.errorText().isEmpty(), qPrintable(window.errorText()));
        window.stepControls()->showPaused(5);
        QVERIFY(window.stepControls()->progressText().contains("paused"));
        window.applyForms();
        QVERIFY(wait_idle(*window.controller()));
        QVERIFY(window.stepControls()->progressText().isEmpty());
    }

    // 16. The dims' reason says what is wrong, whole, on a row of its own.
    void dims_errors_say_what_is_wrong() {
        QVERIFY(index_list_error("0-500", 8, 32).contains("out of range"));
        QVERIFY(index_list_error("0-20", 8, 64).contains("at most 8"));
        QVERIFY(index_list_error("a", 8, 0).contains("not a dim"));
        QVERIFY(index_list_error("0-3, 7", 8, 16).isEmpty());
        TraceStore store = record(small_spec("linear"), 2);
        OutputPlot plot;
        plot.setStores(&store);
        plot.rebuild();
        QVERIFY(!plot.setDimensions("0-500"));
        QVERIFY2(plot.dimensionsError().contains("y has dims 0 to 15"), qPrintable(plot.dimensionsError()));
    }

    // 17. Typed numbers stay as typed and are refused with a reason.
    void spin_boxes_keep_what_is_typed() {
        ModelPanel panel;
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        auto type = [&](const QString& key, const QString& text) {
            for (StrictSpinBox* box : panel.findChildren<StrictSpinBox*>()) {
                if (!box->toolTip().contains(QString("'%1'").arg(key))) continue;
                box->setFocus();
                box->selectAll();
                QTest::keyClicks(box, text);
                QTest::keyClick(box, Qt::Key_Enter);
                return box->value();
            }
            return -12345;
        };
        QCOMPARE(type("n_layers", "-5"), -5);
        QVERIFY2(panel.errorFor("n_layers").contains("positive"), qPrintable(panel.errorFor("n_layers")));
        QCOMPARE(type("n_layers", "4"), 4);
        QCOMPARE(type("n_heads", "99999"), 99999);
        QVERIFY2(panel.errorFor("n_heads").contains("limit"), qPrintable(panel.errorFor("n_heads")));
        StrictSpinBox batch(1, 1024);
        batch.setValue(0);
        QVERIFY(batch.rangeError().contains("minimum of 1"));
    }

    // 19. Fields that do not apply are disabled: Period unless sinusoid, token input without a token head.
    void irrelevant_fields_are_disabled() {
        InputPanel panel;
        SessionSpec spec = small_spec("linear", InputKind::Feedback);
        panel.fill(spec);
        auto* period = panel.findChild<QDoubleSpinBox*>();
        QVERIFY(period && !period->isEnabled());
        panel.setTokenModel(false);
        auto* source = panel.findChildren<QComboBox*>().value(0);
        auto* items = qobject_cast<QStandardItemModel*>(source->model());
        QVERIFY(!items->item(source->findData(int(InputKind::Tokens)))->isEnabled());
        panel.setTokenModel(true);
        QVERIFY(items->item(source->findData(int(InputKind::Tokens)))->isEnabled());
        // 16. A long refusal under the form keeps the height of all its lines.
        panel.resize(260, 600);
        panel.showError(
            QString("x50.csv: rows have 50 values; the model needs a multiple of its width 16 "
                    "(batch elements side by side)"));
        QLabel* error = nullptr;
        for (QLabel* label : panel.findChildren<QLabel*>())
            if (label->text().startsWith("x50.csv")) error = label;
        QVERIFY(error);
        QVERIFY(error->minimumHeight() >= 2 * error->fontMetrics().height());
    }

    // 20. Weights of another width that divides a CSV's rows: the new reading is said, with the way out.
    void csv_read_at_another_width_is_said() {
        const QString csv = dir_.filePath("x48.csv");
        QFile file(csv);
        QVERIFY(file.open(QIODevice::WriteOnly));
        for (int t = 0; t < 5; ++t) {
            QStringList row;
            for (int e = 0; e < 48; ++e) row << QString::number(0.01 * (t + e));
            file.write(row.join(',').toUtf8() + "\n");
        }
        file.close();
        SessionSpec spec = small_spec("linear", InputKind::File);
        spec.input.path = csv;
        spec.observed = 0;
        MainWindow window(spec);
        QVERIFY(wait_idle(*window.controller()));
        QCOMPARE(window.controller()->traces().info().batch, 3);  // 48 = 3 x 16
        window.loadWeights(kGoldenModel);                         // 24 wide: 48 = 2 x 24
        QVERIFY(wait_idle(*window.controller()));
        QCOMPARE(window.controller()->traces().info().batch, 2);
        QVERIFY2(window.errorText().contains("batch 2 of width 24"), qPrintable(window.errorText()));
    }

    // 22. Open recent lists what opened and what was saved, never what failed.
    void recent_files_are_files_that_opened() {
        QSettings().remove("recentFiles");
        MainWindow window(small_spec("linear"));
        QVERIFY(wait_idle(*window.controller()));
        const QString broken = dir_.filePath("broken.json");
        QFile file(broken);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("{\"not\": \"a session\"");
        file.close();
        window.openFile(broken);
        QVERIFY(wait_idle(*window.controller()));
        QVERIFY(!window.recentFiles().contains(QFileInfo(broken).absoluteFilePath()));
        const QString saved = dir_.filePath("saved.json");
        window.sessionIO()->saveSession(saved);
        QCOMPARE(window.recentFiles().value(0), QFileInfo(saved).absoluteFilePath());
    }

    // 23, 24. The shortcuts come from the actions; Help ▸ Usage is the README's section in a window.
    void shortcuts_and_usage() {
        MainWindow window(small_spec("linear"));
        QStringList keys;
        for (const auto& [key, what] : window.shortcutList()) keys << key + " " + what;
        const QString all = keys.join('\n');
        QVERIFY2(all.contains("Ctrl+I Intervene"), qPrintable(all));
        QVERIFY2(all.contains("Ctrl+Q Quit"), qPrintable(all));
        QVERIFY2(all.contains("F10 Step"), qPrintable(all));
        const QString usage = MainWindow::usageMarkdown();
        QVERIFY(usage.startsWith("## Usage"));
        QVERIFY(usage.contains("### The explorer"));
        QVERIFY(!usage.contains("## Extending Stepscope"));
        window.showUsage();
        QVERIFY(window.findChild<QDialog*>("usageWindow"));
    }

    // The command table builds the menus, the shortcuts help and the scripted flags: each row is in all three.
    void every_command_is_in_the_menus_the_shortcuts_and_the_flags() {
        MainWindow window(small_spec("linear"));
        QHash<int, QList<QAction*>> in_menus;
        std::function<void(const QList<QAction*>&)> walk = [&](const QList<QAction*>& actions) {
            for (QAction* action : actions) {
                if (action->menu() && action_command(action) < 0) walk(action->menu()->actions());
                if (action_command(action) >= 0) in_menus[action_command(action)].append(action);
            }
        };
        walk(window.menuBar()->actions());
        const QString help = gui_usage();
        const auto shortcuts = window.shortcutList();
        for (int id = 0; id <= int(CommandId::Screenshot); ++id) {
            const WindowCommand& command = window_command(CommandId(id));
            QCOMPARE(int(command.id), id);
            QVERIFY2(command.menu || command.flag, command.text);
            if (command.menu) {
                QCOMPARE(in_menus.value(id).size(), 1);
                const QKeySequence keys = command.shortcut.sequence();
                QCOMPARE(in_menus.value(id).first()->shortcut(), keys);
                if (!keys.isEmpty())
                    QVERIFY2(shortcuts.contains({keys.toString(QKeySequence::NativeText),
                                                 command_text(command).remove(QChar(0x2026))}),
                             command.text);
            } else {
                QVERIFY(!in_menus.contains(id));
            }
            if (!command.flag) continue;
            const QString flag = QStringLiteral("--") + command.flag;
            QVERIFY2(help.contains(flag + (command.value ? QStringLiteral(" ") + command.value : QString())),
                     qPrintable(flag));
            QCOMPARE(command_for_flag(flag), &command);
            if (command.value) {
                QVERIFY_THROWS_EXCEPTION(stepscope::Error, parse_gui_arguments({flag}));
            } else {
                const GuiOptions options = parse_gui_arguments({flag});
                QCOMPARE(options.actions.size(), size_t(1));
                QCOMPARE(int(options.actions[0].command), id);
            }
        }
    }

private:
    QTemporaryDir dir_;
};

QTEST_MAIN(PolishTest)
#include "test_ui_polish.moc"
