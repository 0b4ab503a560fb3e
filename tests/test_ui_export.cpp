// Exports: images of the asked size, a CSV row per step, snapshots that load back to the same state.
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include "export_controller.h"
#include "headless_export.h"
#include "main_window.h"
#include "plots/plot_export.h"
#include "plots/plot_panel.h"
#include "stepscope/snapshot.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

QStringList read_lines(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly | QIODevice::Text)) return {};
    return QString::fromUtf8(file.readAll()).split('\n', Qt::SkipEmptyParts);
}

}  // namespace

namespace {
QString read_text(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()) : QString();
}
}  // namespace

class ExportTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void plot_images_have_the_asked_size_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("plot");
        QTest::newRow("png") << "outputs.png" << 0;
        QTest::newRow("jpg") << "states.jpg" << 1;
        QTest::newRow("heatmap png") << "attention.png" << 2;
    }
    void plot_images_have_the_asked_size() {
        QFETCH(QString, name);
        QFETCH(int, plot);
        MainWindow window(small_spec("full"));
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->step(6);
        QVERIFY(wait_idle(*window.controller()));
        QSignalSpy done(window.exporter(), &ExportController::done);
        const QString path = dir_.filePath(name);
        window.exporter()->exportPlot(plot, path, QSize(640, 360));
        QCOMPARE(done.size(), 1);
        QImage image(path);
        QVERIFY2(!image.isNull(), qPrintable(path));
        QCOMPARE(image.size(), QSize(640, 360));
    }

    void pdf_and_all_plots_at_once() {
        MainWindow window(small_spec("full"));
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->step(4);
        QVERIFY(wait_idle(*window.controller()));
        const QString pdf = dir_.filePath("performance.pdf");
        window.exporter()->exportPlot(3, pdf, QSize(800, 500));
        QFile file(pdf);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QVERIFY(file.read(5) == "%PDF-");
        const QString folder = dir_.filePath("all");
        QSignalSpy done(window.exporter(), &ExportController::done);
        window.exporter()->exportAllPlots(folder, "png", QSize(500, 300));
        QCOMPARE(done.size(), 1);
        for (const char* stem : {"outputs", "state_norms", "attention", "performance"})
            QCOMPARE(QImage(QDir(folder).filePath(QString(stem) + ".png")).size(), QSize(500, 300));
    }

    // The one list of formats drives the writer and the dialogs: each entry writes a file of its kind.
    void every_listed_format_is_written_and_offered() {
        const QMap<QString, QByteArray> magic = {{"png", "\x89PNG"},
                                                 {"jpg", "\xFF\xD8"},
                                                 {"pdf", "%PDF-"},
                                                 {"svg", "<?xml"}};
        MainWindow window(small_spec("linear"));
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->step(3);
        QVERIFY(wait_idle(*window.controller()));
        QCOMPARE(image_format_suffixes().size(), magic.size());
        for (const QString& suffix : image_format_suffixes()) {
            QVERIFY2(magic.contains(suffix), qPrintable(suffix));
            QVERIFY(image_format_filter().contains("(*." + suffix + ")"));
            QVERIFY(image_format_choices().contains(suffix));
            const QString path = dir_.filePath("listed." + suffix);
            QSignalSpy done(window.exporter(), &ExportController::done);
            window.exporter()->exportPlot(0, path, QSize(320, 200));
            QCOMPARE(done.size(), 1);
            QFile file(path);
            QVERIFY(file.open(QIODevice::ReadOnly));
            QVERIFY2(file.read(magic[suffix].size()) == magic[suffix], qPrintable(path));
        }
    }

    void unknown_image_formats_are_refused() {
        MainWindow window(small_spec("full"));
        QVERIFY(wait_idle(*window.controller()));
        QSignalSpy failed(window.exporter(), &ExportController::failed);
        window.exporter()->exportPlot(0, dir_.filePath("plot.bmpx"), QSize(100, 100));
        QCOMPARE(failed.size(), 1);
        QVERIFY(failed.first().at(0).toString().contains("bmpx"));
        QVERIFY(!QFile::exists(dir_.filePath("plot.bmpx")));
    }

    // Long format: a row per step and batch element, each holding that element's values.
    void traces_have_one_row_per_step_and_element() {
        MainWindow window(small_spec("linear"));
        SessionController* run = window.controller();
        QVERIFY(wait_idle(*run));
        run->step(9);
        QVERIFY(wait_idle(*run));
        const QString path = dir_.filePath("traces.csv");
        window.exporter()->exportTraces(path);
        const QStringList lines = read_lines(path);
        const int batch = run->traces().info().batch;
        QCOMPARE(batch, 3);
        QCOMPARE(lines.size(), 1 + 9 * batch);
        const QStringList header = lines[0].split(',');
        QCOMPARE(header[0], QString("step"));
        QCOMPARE(header[1], QString("batch"));
        QVERIFY(header.contains("output_norm"));
        QVERIFY(header.contains("y15"));
        QVERIFY(header.contains("L1_self_Snorm_h1"));
        const int y0 = int(header.indexOf("y0")), norm = int(header.indexOf("L1_self_Snorm_h1"));
        std::vector<std::vector<StepRecord>> expected(static_cast<size_t>(batch));
        for (const BatchRecord& r : run->traces().batch_records())
            for (int n = 0; n < batch; ++n) expected[size_t(n)].push_back(r.element(n));
        for (int row = 1; row < lines.size(); ++row) {
            const QStringList cells = lines[row].split(',');
            QCOMPARE(cells.size(), header.size());
            const int step = (row - 1) / batch + 1, element = (row - 1) % batch;
            QCOMPARE(cells[0].toInt(), step);
            QCOMPARE(cells[1].toInt(), element);
            const StepRecord& r = expected[size_t(element)][size_t(step - 1)];
            QCOMPARE(cells[y0 + 5].toFloat(), r.output[5]);
            QCOMPARE(cells[norm].toFloat(), r.layers[1].self.first[1]);
        }
        // The rows of the shown element are the ones the plots draw.
        QCOMPARE(expected[1][8].output, run->traces().records()[8].output);
    }

    void snapshots_load_back_to_the_same_state() {
        SessionController run;
        run.open(small_spec("full"));
        QVERIFY(wait_idle(run));
        run.step(8);
        QVERIFY(wait_idle(run));
        const auto model = run.traces().info().model;
        QSignalSpy saved(&run, &SessionController::snapshotSaved);

        const QString last = dir_.filePath("last.safetensors");
        run.saveSnapshot(last);
        QVERIFY(wait_idle(run));
        QCOMPARE(saved.size(), 1);
        SnapshotInfo info;
        const State loaded = load_snapshot(last.toStdString(), *model, &info);
        QCOMPARE(loaded.step, int64_t(8));
        QVERIFY(loaded == run.stateAt(8).state);
        QVERIFY(info.extra.count("session") == 1);

        // At a scrubbed step: the state of that step, and the run stays where it was.
        run.setViewStep(3);
        const QString earlier = dir_.filePath("step3.safetensors");
        run.saveSnapshot(earlier);
        QVERIFY(wait_idle(run));
        const State at3 = load_snapshot(earlier.toStdString(), *model);
        QCOMPARE(at3.step, int64_t(3));
        QVERIFY(at3 == fresh_run(run, 3).state);
        QCOMPARE(run.lastStep(), qint64(8));

        // Open snapshot continues from it exactly.
        QSignalSpy opened(&run, &SessionController::runOpened);
        run.openSnapshot(earlier);
        QVERIFY(wait_idle(run));
        QCOMPARE(opened.size(), 1);
        QCOMPARE(run.traces().base_step(), int64_t(3));
        run.step(2);
        QVERIFY(wait_idle(run));
        QCOMPARE(run.lastStep(), qint64(5));
        QVERIFY(run.stateAt(5).state == fresh_run(run, 5).state);
    }

    // A snapshot's state is host data: one saved from a GPU run continues on this window's device.
    void a_snapshot_from_a_gpu_run_opens_on_the_cpu() {
        SessionController run;
        run.open(small_spec("linear"));
        QVERIFY(wait_idle(run));
        run.step(4);
        QVERIFY(wait_idle(run));
        const QString path = dir_.filePath("from_gpu.safetensors");
        run.saveSnapshot(path);
        QVERIFY(wait_idle(run));
        SafetensorsFile file = read_safetensors(path.toStdString());
        QJsonObject session = QJsonDocument::fromJson(QByteArray::fromStdString(file.metadata.at("session"))).object();
        QCOMPARE(session.value("device").toString(), QString("cpu"));
        session["device"] = "cuda";
        file.metadata["session"] = QJsonDocument(session).toJson(QJsonDocument::Compact).toStdString();
        write_safetensors(path.toStdString(), file);

        QSignalSpy opened(&run, &SessionController::runOpened);
        run.openSnapshot(path);
        QVERIFY(wait_idle(run));
        QCOMPARE(opened.size(), 1);
        QCOMPARE(run.spec().device, Device::Cpu);
        QCOMPARE(run.traces().base_step(), int64_t(4));
    }

    void headless_export_writes_everything() {
        HeadlessExport job;
        job.spec = small_spec("full", InputKind::Feedback);
        job.steps = 6;
        job.directory = dir_.filePath("headless");
        job.width = 700;
        job.height = 400;
        const QStringList written = run_headless_export(job);
        QCOMPARE(written.size(), 8);  // 5 plots (the head grid with them), traces, snapshot, session
        for (const char* stem : {"outputs", "state_norms", "attention", "performance", "head_grid"})
            QCOMPARE(QImage(QDir(job.directory).filePath(QString(stem) + ".png")).size(), QSize(700, 400));
        QCOMPARE(read_lines(QDir(job.directory).filePath("traces.csv")).size(), 1 + 6 * 3);
        const SessionSpec spec = session_from_file(QDir(job.directory).filePath("session.json"));
        QCOMPARE(spec.steps, int64_t(6));
        auto session = Session::open(spec);
        const State snapshot =
            load_snapshot(QDir(job.directory).filePath("snapshot.safetensors").toStdString(), *session->model());
        for (int i = 0; i < 6; ++i) session->advance();
        QVERIFY(snapshot == session->state());
    }

    // Linear attention's views inside: the spectrum of S at the last step and its effective rank over
    // every step, plotted as the engine recorded them; softmax attention has no S to plot.
    void headless_export_writes_linear_attentions_spectrum_and_effective_rank() {
        HeadlessExport job;
        job.spec = small_spec("linear", InputKind::Feedback);
        job.steps = 9;
        job.directory = dir_.filePath("headless_linear");
        job.width = 700;
        job.height = 400;
        const QStringList written = run_headless_export(job);
        for (const char* stem : {"spectrum", "capacity"}) {
            const QString path = QDir(job.directory).filePath(QString(stem) + ".png");
            QVERIFY2(written.contains(path), stem);
            QCOMPARE(QImage(path).size(), QSize(700, 400));
        }
        QVERIFY(!written.contains(QDir(dir_.filePath("headless")).filePath("spectrum.png")));
        // They draw data, not their empty states.
        job.format = QStringLiteral("svg");
        job.directory = dir_.filePath("headless_linear_svg");
        run_headless_export(job);
        const QString capacity = read_text(QDir(job.directory).filePath("capacity.svg"));
        QVERIFY(capacity.contains("effective rank"));
        QVERIFY(!capacity.contains("step on to see it"));
        const QString spectrum = read_text(QDir(job.directory).filePath("spectrum.svg"));
        QVERIFY(spectrum.contains("step 9"));
        QVERIFY(!spectrum.contains("No spectrum recorded"));
    }

private:
    QTemporaryDir dir_;
};

QTEST_MAIN(ExportTest)
#include "test_ui_export.moc"
