// stepscope replay as a user runs it: every golden case reproduced, bad arguments refused with exit code 2.
#include <QtTest>

#include <QTemporaryDir>

#include "cli_test_support.h"
#include "stepscope/safetensors.h"
#include "test_support.h"

using namespace stepscope;
using testing::CliResult;
using testing::run_stepscope;

class ReplayCliTest : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

private slots:
    void replays_every_golden_case_data() { testing::add_golden_rows(); }

    void replays_every_golden_case() {
        QFETCH(QString, name);
        QFETCH(double, tolerance);
        const std::string case_name = name.toStdString();
        const QString out = dir_.path() + "/" + name + ".safetensors";
        const CliResult result = run_stepscope(
            {"replay", "--model", QString::fromStdString(testing::golden_path(case_name, "model.safetensors")),
             "--inputs", QString::fromStdString(testing::golden_path(case_name, "io.safetensors")), "--output", out});
        QVERIFY2(result.exit_code == 0, qPrintable(result.stderr_text));
        const SafetensorsFile produced = read_safetensors(out.toStdString());
        const SafetensorsFile expected = read_safetensors(testing::golden_path(case_name, "io.safetensors"));
        for (const auto& [tensor, values] : expected.tensors) {
            if (tensor != "y" && tensor.rfind("state.", 0) != 0) continue;
            QVERIFY2(produced.tensors.count(tensor), tensor.c_str());
            QCOMPARE(produced.tensors.at(tensor).shape, values.shape);
            STEPSCOPE_COMPARE_CLOSE(case_name + " " + tensor, produced.tensors.at(tensor).values, values.values,
                                    tolerance, 0.0);
        }
    }

    void bad_arguments_exit_2_with_one_line() {
        const QString model = QString::fromStdString(testing::golden_path("enc_linear", "model.safetensors"));
        const QString dec_io = QString::fromStdString(testing::golden_path("dec_linear", "io.safetensors"));
        const QList<QStringList> cases = {
            {"replay"},
            {"replay", "--model", model},
            {"replay", "--model", model, "--inputs", dir_.path() + "/none.safetensors", "--output", "o"},
            {"replay", "--model", model, "--inputs", dec_io, "--output", dir_.path() + "/o.safetensors"},
            {"replay", "--model", model, "--bogus", "1"},
            {"replay", "--model", dec_io, "--inputs", dec_io, "--output", dir_.path() + "/o.safetensors"},
            {"replay", "--model", model, "--inputs", dec_io, "--output", dir_.path() + "/o.safetensors", "--device",
             "gpu"},
        };
        for (const QStringList& arguments : cases) STEPSCOPE_VERIFY_USAGE_ERROR("replay", arguments);
    }
};

QTEST_MAIN(ReplayCliTest)
#include "test_replay_cli.moc"
