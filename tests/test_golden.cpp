// The engine against the reference: every golden case's outputs, final states and batch form.
#include <QtTest>

#include <QFileInfo>

#include "stepscope/attention_kind.h"
#include "stepscope/model.h"
#include "stepscope/snapshot.h"
#include "test_support.h"

using namespace stepscope;

namespace {

struct Run {
    std::vector<float> y;  // (T, N, E)
    State state;
};

Run run_recurrent(const Model& model, const SafetensorsFile& io) {
    const Tensor& x = io.tensors.at("x");
    const long steps = x.shape[0], batch = x.shape[1], width = x.shape[2];
    const bool decoder = model.config().kind == ModelKind::Decoder;
    const Memory memory = decoder ? decoder_memory(io.tensors, "io.safetensors") : Memory{};
    Run run{{}, model.new_state()};
    RowMatrix y;
    for (long t = 0; t < steps; ++t) {
        const Eigen::Map<const RowMatrix> x_t(x.values.data() + t * batch * width, batch, width);
        if (decoder) model.step(x_t, memory, run.state, y);
        else model.step(x_t, run.state, y);
        run.y.insert(run.y.end(), y.data(), y.data() + y.size());
    }
    return run;
}

bool keeps_cache(const std::string& attention_type) { return state_grows(attention_capabilities(attention_type)); }

// Whether a module of the model keeps a key/value cache (softmax attention, self or cross).
bool keeps_cache(const ModelConfig& config) {
    return keeps_cache(config.self_attention()) ||
           (config.kind == ModelKind::Decoder && keeps_cache(config.cross_attention_type));
}

}  // namespace

class GoldenTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        // Fail, never skip: a missing folder would make every case vacuous.
        QVERIFY2(QFileInfo(QString::fromStdString(testing::golden_dir())).isDir(),
                 qPrintable("golden folder missing: " + QString::fromStdString(testing::golden_dir())));
    }

    void matches_reference_data() { testing::add_golden_rows(); }

    void matches_reference() {
        QFETCH(QString, name);
        QFETCH(double, tolerance);
        const std::string case_name = name.toStdString();
        const auto model = load_model(testing::golden_path(case_name, "model.safetensors"));
        const SafetensorsFile io = read_safetensors(testing::golden_path(case_name, "io.safetensors"));
        const Run run = run_recurrent(*model, io);

        const Tensor& expected_y = io.tensors.at("y");
        QCOMPARE(long(run.y.size()), long(expected_y.numel()));
        const auto deviation = testing::max_deviation(run.y, expected_y.values);
        qInfo("%s: max |y - reference| = %.3g", case_name.c_str(), deviation.worst);
        STEPSCOPE_COMPARE_CLOSE(case_name + " y", run.y, expected_y.values, tolerance, 0.0);

        const TensorMap state = state_tensors(*model, run.state);
        for (const auto& [tensor_name, expected] : io.tensors) {
            if (tensor_name.rfind("state.", 0) != 0) continue;
            QVERIFY2(state.count(tensor_name), tensor_name.c_str());
            const Tensor& actual = state.at(tensor_name);
            QCOMPARE(actual.shape, expected.shape);
            const auto state_deviation = testing::max_deviation(actual.values, expected.values);
            qInfo("%s: max |%s - reference| = %.3g", case_name.c_str(), tensor_name.c_str(), state_deviation.worst);
            STEPSCOPE_COMPARE_CLOSE(case_name + " " + tensor_name, actual.values, expected.values, tolerance, 0.0);
        }
    }

    // The bound for a bfloat16 key/value cache: every output within 1e-2 of the reference.
    void bf16_cache_stays_within_1e_2_of_reference_data() {
        QTest::addColumn<QString>("name");
        for (const testing::GoldenCase& golden : testing::golden_cases()) {
            const auto model = load_model(testing::golden_path(golden.name, "model.safetensors"));
            if (keeps_cache(model->config())) QTest::newRow(golden.name) << QString(golden.name);
        }
    }

    void bf16_cache_stays_within_1e_2_of_reference() {
        QFETCH(QString, name);
        const std::string case_name = name.toStdString();
        const auto exact = load_model(testing::golden_path(case_name, "model.safetensors"));
        ModelConfig config = exact->config();
        config.cache_precision = "bf16";
        const auto model = Model::from_tensors(config, exact->tensors());
        const SafetensorsFile io = read_safetensors(testing::golden_path(case_name, "io.safetensors"));
        const Run run = run_recurrent(*model, io);
        const Tensor& expected_y = io.tensors.at("y");
        const auto deviation = testing::max_deviation(run.y, expected_y.values);
        qInfo("%s, bf16 cache: max |y - reference| = %.3g", case_name.c_str(), deviation.worst);
        STEPSCOPE_COMPARE_CLOSE(case_name + " y, bf16 cache", run.y, expected_y.values, 1e-2, 0.0);
        // The cache really is bfloat16: the float one would match to 1e-4.
        QVERIFY(deviation.worst > 1e-6);
    }

    void batch_form_matches_reference_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("enc_linear") << "enc_linear";
        QTest::newRow("enc_full") << "enc_full";
    }

    void batch_form_matches_reference() {
        QFETCH(QString, name);
        const std::string case_name = name.toStdString();
        const auto model = load_model(testing::golden_path(case_name, "model.safetensors"));
        const SafetensorsFile io = read_safetensors(testing::golden_path(case_name, "io.safetensors"));
        const Tensor& x = io.tensors.at("x");
        const Tensor& expected = io.tensors.at("y_batch");
        const RowMatrix xs = Eigen::Map<const RowMatrix>(x.values.data(), x.shape[0] * x.shape[1], x.shape[2]);
        const RowMatrix ys = model->forward_batch(xs, int(x.shape[0]));
        STEPSCOPE_COMPARE_CLOSE(case_name + " y_batch", ys, expected.values, 1e-4, 0.0);
    }
};

QTEST_APPLESS_MAIN(GoldenTest)
#include "test_golden.moc"
