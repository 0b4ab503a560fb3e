// The window as a desktop application: form help and errors, the wheel, menus and shortcuts,
// pausing, loading weights that do not fit the input, recent files and what a dropped file is.
#include <QAbstractSpinBox>
#include <QLabel>
#include <QMenuBar>
#include <QProcess>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QMessageBox>
#include <QtTest>

#include "input_panel.h"
#include "main_window.h"
#include "model_panel.h"
#include "plots/output_plot.h"
#include "plots/plot_panel.h"
#include "session/file_kind.h"
#include "step_controls.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

QAction* menu_action(QMainWindow& window, const QString& text) {
    for (QAction* menu : window.menuBar()->actions())
        for (QAction* action : menu->menu()->actions())
            if (action->text() == text) return action;
    return nullptr;
}

const QString kGoldenModel = QStringLiteral(STEPSCOPE_GOLDEN_DIR "/enc_linear/model.safetensors");

}  // namespace

class DesktopTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
        QVERIFY(dir_.isValid());
    }

    void every_field_has_its_own_help() {
        ModelPanel panel;
        const QStringList keys = {"n_layers",         "n_heads",           "eps",         "softmax_temp",
                                  "dropout",          "attention_dropout", "feature_map", "feature_map_dimensions",
                                  "query_dimensions", "value_dimensions"};
        QSet<QString> helps;
        for (const QString& key : keys) {
            const QString help = panel.helpFor(key);
            QVERIFY2(help.contains(QString("'%1'").arg(key)), qPrintable(help));
            helps.insert(help.section('\n', 0, 0));
        }
        QCOMPARE(helps.size(), keys.size());
        QVERIFY(panel.helpFor("eps").contains("linear attention"));
        // The label no longer calls linear attention's eps a LayerNorm one.
        for (QLabel* label : panel.findChildren<QLabel*>()) QVERIFY(!label->text().contains("LayerNorm eps"));
    }

    void long_field_errors_wrap_unclipped() {
        ModelPanel panel;
        panel.resize(320, 900);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        QVERIFY(panel.setField("value_dimensions", "5000"));
        panel.showEngineError(
            Error("parameter 'value_dimensions' is far too large for anything this form could "
                  "ever build, and this sentence is long so that it needs three lines",
                  "value_dimensions"));
        QTest::qWait(50);
        QLabel* shown = nullptr;
        for (QLabel* label : panel.findChildren<QLabel*>())
            if (label->text().contains("three lines")) shown = label;
        QVERIFY(shown);
        QVERIFY(shown->wordWrap());
        QVERIFY2(shown->height() >= shown->heightForWidth(shown->width()),
                 qPrintable(QString("%1 < %2").arg(shown->height()).arg(shown->heightForWidth(shown->width()))));
        QVERIFY(shown->height() > 2 * shown->fontMetrics().height());
    }

    void the_wheel_changes_only_a_focused_field() {
        ModelPanel panel;
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        QSpinBox* seed = nullptr;
        for (QSpinBox* spin : panel.findChildren<QSpinBox*>())
            if (spin->toolTip().startsWith("Seed of the random weights")) seed = spin;
        QVERIFY(seed);
        seed->setValue(1);
        auto wheel = [seed] {
            QWheelEvent event(QPointF(5, 5), seed->mapToGlobal(QPointF(5, 5)), QPoint(), QPoint(0, -120), Qt::NoButton,
                              Qt::NoModifier, Qt::NoScrollPhase, false);
            QApplication::sendEvent(seed, &event);
        };
        wheel();
        QCOMPARE(seed->value(), 1);
        QCOMPARE(seed->focusPolicy(), Qt::StrongFocus);
        seed->setFocus();
        QVERIFY(QTest::qWaitFor([seed] { return seed->hasFocus(); }));
        wheel();
        QCOMPARE(seed->value(), 0);
    }

    void menus_say_what_can_be_done_and_how() {
        MainWindow window(small_spec("linear"));
        QVERIFY(wait_idle(*window.controller()));
        QAction* apply = menu_action(window, "Apply forms: new run");
        QVERIFY(apply);
        QCOMPARE(apply->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_Return));
        QAction* show = menu_action(window, "Show this run");
        QVERIFY(show);
        QCOMPARE(show->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_P));
        QVERIFY(menu_action(window, "Delete run…"));
        QVERIFY(window.stepControls()->progressText().isEmpty());
        window.controller()->step(3);
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->setRunVisible(window.controller()->viewedRun(), false);
        show->trigger();
        QVERIFY(window.controller()->runs().find(window.controller()->viewedRun())->visible);
        QVERIFY(menu_action(window, "Usage (README)"));
    }

    void pause_is_reported_as_a_pause() {
        MainWindow window(small_spec("linear"));
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->play(0);
        QVERIFY(QTest::qWaitFor([&] { return window.controller()->lastStep() > 3; }));
        window.controller()->pause();
        QVERIFY(wait_idle(*window.controller()));
        QTest::qWait(50);
        const QString status = window.statusBar()->currentMessage();
        QVERIFY2(status.startsWith("Paused at step"), qPrintable(status));
    }

    void dims_say_why_they_are_refused() {
        OutputPlot plot;
        QVERIFY(!plot.setDimensions("3-1"));
        QVERIFY(!plot.dimensionsError().isEmpty());
        QVERIFY(plot.setDimensions("0-2"));
        QVERIFY(plot.dimensionsError().isEmpty());
    }

    void other_runs_are_named_and_follow_the_element_shown() {
        MainWindow window(small_spec("linear"));
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->step(4);
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->reset();
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->step(4);
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->setObserved(2);
        QVERIFY(wait_idle(*window.controller()));
        window.plotPanel()->refreshNow();
        // Every run shows the element chosen; the other run is in the legend by its name.
        for (const auto& run : window.controller()->runs().runs()) QCOMPARE(run->traces->info().observed, 2);
        QCustomPlot* plot = window.plotPanel()->outputs()->plot();
        QStringList legend;
        for (int i = 0; i < plot->legend->itemCount(); ++i)
            if (auto* item = qobject_cast<QCPPlottableLegendItem*>(plot->legend->item(i)))
                legend << item->plottable()->name();
        QVERIFY2(legend.contains("run 1 (dashed)"), qPrintable(legend.join(" | ")));
        const QString title = window.plotPanel()->outputs()->fullTitle();
        QVERIFY2(title.contains("element 2"), qPrintable(title));
    }

    void weights_of_another_width_offer_the_fed_back_input() {
        // An input file 16 wide (the small model's d_model); the golden model is 24 wide.
        const QString csv = dir_.filePath("x16.csv");
        QFile file(csv);
        QVERIFY(file.open(QIODevice::WriteOnly));
        for (int t = 0; t < 5; ++t) {
            QStringList row;
            for (int e = 0; e < 16; ++e) row << QString::number(0.1 * (t + e));
            file.write(row.join(',').toUtf8() + "\n");
        }
        file.close();
        SessionSpec spec = small_spec("linear", InputKind::File);
        spec.input.path = csv;
        spec.batch = 1;
        spec.observed = 0;
        MainWindow window(spec);
        QVERIFY(wait_idle(*window.controller()));
        QVERIFY2(window.errorText().isEmpty(), qPrintable(window.errorText()));
        QCOMPARE(file_kind(kGoldenModel), FileKind::Model);
        window.loadWeights(kGoldenModel);
        QVERIFY(wait_idle(*window.controller()));
        // Refused for its input, but the form already shows the file's model.
        QVERIFY2(window.errorText().contains("Input refused"), qPrintable(window.errorText()));
        QCOMPARE(window.modelPanel()->fieldText("n_heads"), QString("3"));
        QVERIFY(!window.inputPanel()->errorText().isEmpty());
        window.switchInputToFeedback();
        QVERIFY(wait_idle(*window.controller()));
        QVERIFY2(window.errorText().isEmpty(), qPrintable(window.errorText()));
        QCOMPARE(window.controller()->spec().weights_path, kGoldenModel);
        QCOMPARE(window.controller()->spec().input.kind, InputKind::Feedback);
        QCOMPARE(window.modelPanel()->weightsSource(), QString("Current model: enc_linear/model.safetensors"));
        QCOMPARE(window.recentFiles().value(0), QFileInfo(kGoldenModel).absoluteFilePath());
    }

    void dropped_files_are_known_by_what_they_hold() {
        QCOMPARE(file_kind("session.json"), FileKind::Session);
        QCOMPARE(file_kind("x.csv"), FileKind::Input);
        QCOMPARE(file_kind(dir_.filePath("missing.safetensors")), FileKind::Unknown);
        MainWindow window(small_spec("linear"));
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->step(2);
        QVERIFY(wait_idle(*window.controller()));
        const QString snapshot = dir_.filePath("snap.safetensors");
        window.controller()->saveSnapshot(snapshot);
        QVERIFY(QTest::qWaitFor([&] { return QFile::exists(snapshot); }));
        QCOMPARE(file_kind(snapshot), FileKind::Snapshot);
        // A dropped snapshot adds a run: nothing is lost, so nothing is asked.
        int asked = 0;
        window.setDiscardQuestion([&](const QString&) {
            ++asked;
            return QMessageBox::Cancel;
        });
        QVERIFY(window.openFile(snapshot));
        QVERIFY(wait_idle(*window.controller()));
        QCOMPARE(asked, 0);
        QCOMPARE(window.controller()->runs().size(), 2);
        QCOMPARE(window.controller()->runs().runs().front()->last_step(), qint64(2));
        QCOMPARE(window.controller()->traces().base_step(), qint64(2));
        QCOMPARE(window.recentFiles().value(0), QFileInfo(snapshot).absoluteFilePath());
        QVERIFY(!window.openFile(dir_.filePath("nothing.txt")));
    }

    void version_and_svg_export_from_the_command_line() {
        QProcess version;
        version.start(STEPSCOPE_BINARY, {"--version"});
        QVERIFY(version.waitForFinished(30000));
        QCOMPARE(version.exitCode(), 0);
        QVERIFY(version.readAllStandardOutput().trimmed().startsWith("stepscope "));
        const QString out = dir_.filePath("cli_svg");
        QProcess export_svg;
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert("QT_QPA_PLATFORM", "offscreen");
        export_svg.setProcessEnvironment(environment);
        export_svg.start(STEPSCOPE_BINARY, {"export", "--config", STEPSCOPE_GOLDEN_DIR "/enc_linear/config.json",
                                            "--steps", "3", "--out", out, "--format", "svg"});
        QVERIFY(export_svg.waitForFinished(60000));
        QCOMPARE(export_svg.exitCode(), 0);
        QVERIFY(QFile::exists(QDir(out).filePath("outputs.svg")));
        // The export looks inside the heatmap's linear layer: the implicit map is a figure.
        QVERIFY(QFile::exists(QDir(out).filePath("attention.svg")));
        QProcess refused;
        refused.start(STEPSCOPE_BINARY,
                      {"export", "--config", "x.json", "--steps", "1", "--out", out, "--format", "gif"});
        QVERIFY(refused.waitForFinished(30000));
        QCOMPARE(refused.exitCode(), 2);
        QVERIFY(refused.readAllStandardError().contains("png, svg, pdf or jpg"));
    }

private:
    QTemporaryDir dir_;
};

QTEST_MAIN(DesktopTest)
#include "test_ui_desktop.moc"
