// stepscope bench as a script runs it: one well-formed JSON object, bad arguments refused with exit code 2.
//
// Never asserts a timing: speed is what the bench measures, not what a test checks.
#include <QtTest>

#include <cmath>

#include <QJsonDocument>
#include <QJsonObject>

#include "cli_test_support.h"

using stepscope::testing::CliResult;
using stepscope::testing::run_stepscope;

namespace {

// A model small enough that a few steps take milliseconds.
const QStringList kSmallModel = {"--layers",       "2",  "--heads",   "2", "--head-dimensions", "8",
                                 "--feed-forward", "32", "--repeats", "2"};

}  // namespace

class BenchCliTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY2(QFile::exists(STEPSCOPE_BINARY), "build the stepscope target first"); }

    void prints_one_json_object_data() {
        QTest::addColumn<QString>("attention");
        QTest::addColumn<QString>("precision");
        QTest::addColumn<int>("batch");
        QTest::addColumn<int>("threads");
        QTest::newRow("linear f32") << "linear"
                                    << "f32" << 3 << 1;
        QTest::newRow("full bf16") << "full"
                                   << "bf16" << 1 << 2;
        QTest::newRow("linear q8") << "linear"
                                   << "q8" << 10 << 2;
    }

    void prints_one_json_object() {
        QFETCH(QString, attention);
        QFETCH(QString, precision);
        QFETCH(int, batch);
        QFETCH(int, threads);
        const CliResult result = run_stepscope(QStringList{"bench", "--steps", "5", "--json", "--attention", attention,
                                                           "--precision", precision, "--batch", QString::number(batch),
                                                           "--threads", QString::number(threads)} +
                                               kSmallModel);
        QVERIFY2(result.exit_code == 0, qPrintable(result.stderr_text));
        QCOMPARE(result.stdout_text.trimmed().count('\n'), 0);
        QJsonParseError error;
        const QJsonDocument document = QJsonDocument::fromJson(result.stdout_text.toUtf8(), &error);
        QVERIFY2(document.isObject(), qPrintable(error.errorString() + ": " + result.stdout_text));
        const QJsonObject json = document.object();
        QCOMPARE(json.value("attention").toString(), attention);
        QCOMPARE(json.value("precision").toString(), precision);
        QCOMPARE(json.value("batch").toInt(), batch);
        QCOMPARE(json.value("steps").toInt(), 5);
        QCOMPARE(json.value("threads").toInt(), threads);
        QCOMPARE(json.value("device").toString(), QString("cpu"));
        for (const char* key : {"ms_per_step", "ms_per_step_median", "steps_per_second", "state_bytes", "weight_bytes",
                                "state_read_bytes", "bytes_per_step", "gb_per_second"})
            QVERIFY2(json.value(key).isDouble() && json.value(key).toDouble() > 0, key);
        QVERIFY(json.value("ms_per_step").toDouble() <= json.value("ms_per_step_median").toDouble());
        QCOMPARE(json.value("bytes_per_step").toDouble(),
                 json.value("weight_bytes").toDouble() + json.value("state_read_bytes").toDouble());
        QVERIFY(!json.contains("probe_gb_per_second"));
        QVERIFY(QStringList({"baseline", "avx2", "avx512", "avx512bf16"}).contains(json.value("kernels").toString()));
    }

    // Halving the bytes of every matrix, bfloat16 reads fewer bytes a step; the probe adds its ratio.
    void bandwidth_probe_reports_a_ratio() {
        auto bench_json = [](const QString& precision) {
            const CliResult result = run_stepscope(
                QStringList{"bench", "--steps", "3", "--json", "--bandwidth", "--precision", precision} + kSmallModel);
            return QJsonDocument::fromJson(result.stdout_text.toUtf8()).object();
        };
        const QJsonObject f32 = bench_json("f32"), bf16 = bench_json("bf16");
        QVERIFY2(f32.value("probe_gb_per_second").toDouble() > 0, "no probe figure");
        QVERIFY(f32.value("bandwidth_ratio").toDouble() > 0);
        // The roofline is the lower of bandwidth x operations per byte and the arithmetic probe.
        const double gflops = f32.value("gflops_per_second").toDouble();
        const double roofline = f32.value("roofline_gflops_per_second").toDouble();
        const double per_byte = gflops / f32.value("gb_per_second").toDouble();
        QVERIFY(gflops > 0 && roofline > 0);
        // (Printed to six digits: each bound holds to rounding.)
        QVERIFY(roofline <= f32.value("probe_gflops_per_second").toDouble() * (1 + 1e-4));
        QVERIFY(roofline <= f32.value("probe_gb_per_second").toDouble() * per_byte * (1 + 1e-4));
        QVERIFY(std::abs(f32.value("roofline_ratio").toDouble() - gflops / roofline) < 1e-3 * gflops / roofline);
        QVERIFY(bf16.value("weight_bytes").toDouble() < 0.6 * f32.value("weight_bytes").toDouble());
        QCOMPARE(bf16.value("state_read_bytes").toDouble(), f32.value("state_read_bytes").toDouble());
        const CliResult table = run_stepscope(QStringList{"bench", "--steps", "3", "--bandwidth"} + kSmallModel);
        QVERIFY2(table.stdout_text.contains("bytes per step") && table.stdout_text.contains("read bandwidth"),
                 qPrintable(table.stdout_text));
    }

    // --block times a known sequence stepped and in blocks: both figures, their ratio, and equal outputs.
    void block_times_a_known_sequence_both_ways() {
        for (const char* attention : {"linear", "full", "delta"}) {
            const CliResult result = run_stepscope(QStringList{"bench", "--steps", "9", "--json", "--batch", "2",
                                                               "--block", "4", "--attention", attention} +
                                                   kSmallModel);
            QVERIFY2(result.exit_code == 0, qPrintable(result.stderr_text));
            const QJsonObject json = QJsonDocument::fromJson(result.stdout_text.toUtf8()).object();
            QCOMPARE(json.value("block").toInt(), 4);
            for (const char* key : {"known_ms_per_step", "block_ms_per_step", "block_speedup"})
                QVERIFY2(json.value(key).isDouble() && json.value(key).toDouble() > 0, key);
            QVERIFY(json.value("block_max_deviation").toDouble() <= 1e-5);
        }
        const QStringList zero_block = {"bench", "--block", "0"};
        STEPSCOPE_VERIFY_USAGE_ERROR("bench", zero_block);
    }

    // The observed run is timed beside the plain one; the ratio is what the bench reports, not what it asserts.
    void observing_adds_the_observed_figures() {
        const CliResult result =
            run_stepscope(QStringList{"bench", "--steps", "4", "--json", "--batch", "3", "--observe",
                                      "attention,spectrum", "--observe-layer", "1", "--observe-element", "2"} +
                          kSmallModel);
        QVERIFY2(result.exit_code == 0, qPrintable(result.stderr_text));
        const QJsonObject json = QJsonDocument::fromJson(result.stdout_text.toUtf8()).object();
        QCOMPARE(json.value("observe").toString(), QString("attention,spectrum"));
        QCOMPARE(json.value("observed_layer").toInt(), 1);
        QCOMPARE(json.value("observed_element").toInt(), 2);
        for (const char* key : {"ms_per_step", "observed_ms_per_step", "observed_ms_per_step_median", "observed_ratio"})
            QVERIFY2(json.value(key).isDouble() && json.value(key).toDouble() > 0, key);
        const CliResult table =
            run_stepscope(QStringList{"bench", "--steps", "3", "--observe", "spectrum"} + kSmallModel);
        QVERIFY2(table.exit_code == 0, qPrintable(table.stderr_text));
        QVERIFY2(table.stdout_text.contains("observing spectrum of layer 0, every batch element"),
                 qPrintable(table.stdout_text));
    }

    void prints_a_table_without_json() {
        const CliResult result = run_stepscope(QStringList{"bench", "--steps", "3"} + kSmallModel);
        QVERIFY2(result.exit_code == 0, qPrintable(result.stderr_text));
        QVERIFY2(result.stdout_text.contains("ms per step"), qPrintable(result.stdout_text));
        QVERIFY2(result.stdout_text.contains("state bytes"), qPrintable(result.stdout_text));
    }

    void help_exits_0() {
        const CliResult result = run_stepscope({"bench", "--help"});
        QCOMPARE(result.exit_code, 0);
        QVERIFY(result.stdout_text.startsWith("usage: stepscope bench"));
    }

    void bad_arguments_exit_2_with_one_line() {
        const QList<QStringList> cases = {
            {"bench", "--attention", "causal"},
            {"bench", "--precision", "f16"},
            {"bench", "--device", "tpu"},
            {"bench", "--batch", "0"},
            {"bench", "--steps", "ten"},
            {"bench", "--threads", "0"},
            {"bench", "--repeats"},
            {"bench", "--bogus", "1"},
            {"bench", "extra"},
            {"bench", "--observe", "maps"},
            {"bench", "--observe", "attention", "--observe-layer", "8"},
            {"bench", "--observe-layer", "0"},
            {"bench", "--observe", "spectrum", "--batch", "2", "--observe-element", "2"},
        };
        for (const QStringList& arguments : cases) STEPSCOPE_VERIFY_USAGE_ERROR("bench", arguments);
    }
};

QTEST_APPLESS_MAIN(BenchCliTest)
#include "test_bench_cli.moc"
