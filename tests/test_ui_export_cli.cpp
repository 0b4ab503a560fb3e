// `stepscope export` from a script: writes images, traces and a snapshot without a display; bad arguments exit 2;
// the scripted window reports its throughput.
#include <QImage>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include "cli_test_support.h"
#include "stepscope/stepper.h"

using stepscope::testing::CliResult;
using stepscope::testing::run_stepscope;

namespace {

// Qt may warn on stderr before the error: the error is the last line.
QString last_line(const QString& text) { return text.trimmed().split('\n').last(); }

}  // namespace

class ExportCliTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        QVERIFY2(QFile::exists(STEPSCOPE_BINARY), "build the stepscope target first");
        config_ = dir_.filePath("config.json");
        QFile file(config_);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(R"({"attention_type": "full", "n_layers": 2, "n_heads": 2, "query_dimensions": 8,
                      "value_dimensions": 8, "feed_forward_dimensions": 16})");
    }

    void writes_everything_without_a_display() {
        const QString out = dir_.filePath("out");
        QProcess process;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove("DISPLAY");
        env.remove("WAYLAND_DISPLAY");
        env.remove("QT_QPA_PLATFORM");
        process.setProcessEnvironment(env);
        process.start(STEPSCOPE_BINARY, {"export", "--config", config_, "--steps", "12", "--out", out, "--width", "640",
                                         "--height", "400"});
        QVERIFY(process.waitForFinished(120000));
        QVERIFY2(process.exitCode() == 0, process.readAllStandardError().constData());
        for (const char* stem : {"outputs", "state_norms", "attention", "performance"})
            QCOMPARE(QImage(QDir(out).filePath(QString(stem) + ".png")).size(), QSize(640, 400));
        QFile csv(QDir(out).filePath("traces.csv"));
        QVERIFY(csv.open(QIODevice::ReadOnly | QIODevice::Text));
        // One row per step and batch element (the session default of 10 elements).
        QCOMPARE(QString::fromUtf8(csv.readAll()).split('\n', Qt::SkipEmptyParts).size(), 1 + 12 * 10);
        QVERIFY(QFileInfo(QDir(out).filePath("snapshot.safetensors")).size() > 0);
        QVERIFY(QFile::exists(QDir(out).filePath("session.json")));

        // The session it wrote reproduces the run.
        const QString again = dir_.filePath("again");
        process.start(STEPSCOPE_BINARY, {"export", "--session", QDir(out).filePath("session.json"), "--out", again});
        QVERIFY(process.waitForFinished(120000));
        QCOMPARE(process.exitCode(), 0);
        QFile first(QDir(out).filePath("snapshot.safetensors")), second(QDir(again).filePath("snapshot.safetensors"));
        QVERIFY(first.open(QIODevice::ReadOnly) && second.open(QIODevice::ReadOnly));
        QVERIFY(first.readAll() == second.readAll());
    }

    void bad_arguments_exit_two_with_one_line_data() {
        QTest::addColumn<QStringList>("arguments");
        QTest::newRow("no source") << QStringList{"export", "--steps", "3", "--out", "x"};
        QTest::newRow("both sources") << QStringList{"export", "--config", "a", "--session", "b", "--out", "x"};
        QTest::newRow("bad steps") << QStringList{"export", "--config", "a", "--steps", "many", "--out", "x"};
        QTest::newRow("unknown option") << QStringList{"export", "--colour", "red"};
        QTest::newRow("missing file") << QStringList{"export", "--config", "/nonexistent.json", "--steps", "3",
                                                     "--out",  "x"};
        QTest::newRow("bad format") << QStringList{"export", "--config", "a",        "--steps", "3",
                                                   "--out",  "x",        "--format", "gif"};
    }
    void bad_arguments_exit_two_with_one_line() {
        QFETCH(QStringList, arguments);
        const CliResult result = run_stepscope(arguments);
        QCOMPARE(result.exit_code, 2);
        const QString error = last_line(result.stderr_text);
        QVERIFY2(error.startsWith("stepscope export: "), qPrintable(error));
    }

    void a_device_that_is_not_there_is_named() {
        if (stepscope::cuda_status().available) QSKIP("a CUDA device is present: nothing to refuse");
        for (const QString& device : {QStringLiteral("tpu"), QStringLiteral("cuda")}) {
            const CliResult result = run_stepscope({"export", "--config", config_, "--steps", "2", "--out",
                                                    dir_.filePath("device-" + device), "--device", device});
            QCOMPARE(result.exit_code, 2);
            const QString error = last_line(result.stderr_text);
            QVERIFY2(error.startsWith("stepscope export: "), qPrintable(error));
            QVERIFY2(error.contains(device == "tpu" ? "--device" : "CUDA is not available"), qPrintable(error));
            QVERIFY(!QFileInfo::exists(dir_.filePath("device-" + device + "/snapshot.safetensors")));
        }
    }

    // The window's scripted steps report their throughput, redraw rate and longest stall.
    void the_window_reports_its_throughput() {
        const QString shot = dir_.filePath("shot.png");
        const CliResult result = run_stepscope({"--config", config_, "--window-size", "800x600", "--report-throughput",
                                                "--steps", "300", "--screenshot", shot});
        QVERIFY2(result.exit_code == 0, qPrintable(result.stderr_text));
        const QRegularExpression line(
            R"(throughput: 300 steps in ([0-9.]+) s: ([0-9.]+) steps/s, ([0-9.]+) redraws/s, )"
            R"(longest event-loop stall ([0-9]+) ms)");
        const QRegularExpressionMatch match = line.match(result.stdout_text);
        QVERIFY2(match.hasMatch(), qPrintable(result.stdout_text));
        QVERIFY(match.captured(2).toDouble() > 0);  // steps per second
        QVERIFY(match.captured(3).toDouble() > 0);  // the plots redrew while stepping
        QVERIFY(!QImage(shot).isNull());
    }

private:
    QTemporaryDir dir_;
    QString config_;
};

QTEST_MAIN(ExportCliTest)
#include "test_ui_export_cli.moc"
