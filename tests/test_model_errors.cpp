// Bad weights files and bad step inputs: clear errors, and nothing already loaded or stepped is lost.
#include <QtTest>

#include <QTemporaryDir>
#include <fstream>
#include <iterator>

#include "stepscope/builder.h"
#include "stepscope/error.h"
#include "stepscope/model.h"
#include "stepscope/snapshot.h"
#include "test_support.h"

using namespace stepscope;
using testing::error_of;
using testing::bytes_of;

namespace {

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::shared_ptr<const Model> small_model(const std::string& attention, ModelKind kind = ModelKind::Encoder) {
    ModelConfig config;
    config.kind = kind;
    config.attention_type = config.self_attention_type = attention;
    config.n_layers = 2;
    config.n_heads = 2;
    config.query_dimensions = config.value_dimensions = 4;
    config.feed_forward_dimensions = 16;
    return Model::create_random(config, 3);
}

RowMatrix random_input(long rows, long cols, int seed) {
    std::srand(seed);
    return RowMatrix::Random(rows, cols);
}

Memory random_memory(int batch, int length, int width, std::vector<int64_t> lengths) {
    Memory memory;
    memory.batch = batch;
    memory.length = length;
    memory.values = RowMatrix::Random(long(batch) * length, width);
    memory.lengths = std::move(lengths);
    return memory;
}

}  // namespace

class ModelErrorsTest : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string path(const char* name) { return (dir_.path() + "/" + name).toStdString(); }

private slots:
    void damaged_weight_files_name_the_problem_data() {
        QTest::addColumn<QString>("damage");
        QTest::addColumn<QString>("clue");
        QTest::newRow("truncated") << "truncated"
                                   << "offset";
        QTest::newRow("header past end") << "header"
                                         << "header";
        QTest::newRow("missing tensor") << "missing"
                                        << "layers.1.norm2.bias";
        QTest::newRow("wrong shape") << "shape"
                                     << "layers.0.linear1.weight";
        QTest::newRow("wrong dtype") << "dtype"
                                     << "layers.0.norm1.weight";
        QTest::newRow("no config") << "config"
                                   << "config";
        QTest::newRow("missing file") << "absent"
                                      << "absent.safetensors";
    }

    void damaged_weight_files_name_the_problem() {
        QFETCH(QString, damage);
        QFETCH(QString, clue);
        const std::string golden = testing::golden_path("enc_linear", "model.safetensors");
        const std::string target = path("damaged.safetensors");
        std::vector<uint8_t> bytes = bytes_of(golden);
        QVERIFY(!bytes.empty());
        SafetensorsFile file = read_safetensors(golden);
        if (damage == "truncated") {
            bytes.resize(bytes.size() - 1000);
            write_bytes(target, bytes);
        } else if (damage == "header") {
            bytes[5] = 0x7f;  // header length far past the file's end
            write_bytes(target, bytes);
        } else if (damage == "missing") {
            file.tensors.erase("layers.1.norm2.bias");
            write_safetensors(target, file);
        } else if (damage == "shape") {
            file.tensors["layers.0.linear1.weight"] = Tensor::f32_zeros({24, 48});
            write_safetensors(target, file);
        } else if (damage == "dtype") {
            file.tensors["layers.0.norm1.weight"] = Tensor::i64({24}, std::vector<int64_t>(24, 1));
            write_safetensors(target, file);
        } else if (damage == "config") {
            file.metadata.clear();
            write_safetensors(target, file);
        }
        const std::string load_path = damage == "absent" ? path("absent.safetensors") : target;
        const QString message = error_of([&] { load_model(load_path); });
        QVERIFY2(message.contains(clue), qPrintable("message: " + message));
    }

    void saved_model_loads_back_identical() {
        const auto model = small_model("linear");
        save_model(path("saved.safetensors"), *model);
        const auto loaded = load_model(path("saved.safetensors"));
        QCOMPARE(loaded->config(), model->config());
        QVERIFY(loaded->tensors().at("layers.1.linear2.weight").values ==
                model->tensors().at("layers.1.linear2.weight").values);
    }

    void bad_step_input_leaves_the_state_as_it_was() {
        for (const char* attention : {"linear", "full"}) {
            const auto model = small_model(attention);
            State state = model->new_state();
            RowMatrix y;
            for (int t = 0; t < 3; ++t) model->step(random_input(2, 8, t), state, y);
            const State before = state;
            QVERIFY(error_of([&] { model->step(random_input(2, 7, 9), state, y); }).contains("width 7"));
            QVERIFY(error_of([&] { model->step(random_input(3, 8, 9), state, y); }).contains("batch size changed"));
            QVERIFY(state == before);
            // The run goes on as if nothing happened.
            State control = before;
            RowMatrix y_control;
            model->step(random_input(2, 8, 5), state, y);
            model->step(random_input(2, 8, 5), control, y_control);
            QCOMPARE(y, y_control);
        }
    }

    void decoder_memory_errors_leave_the_state_as_it_was() {
        const auto model = small_model("full", ModelKind::Decoder);
        State state = model->new_state();
        RowMatrix y;
        const Memory memory = random_memory(2, 5, 8, {5, 3});
        model->step(random_input(2, 8, 1), memory, state, y);
        const State before = state;
        QVERIFY(error_of([&] {
                    model->step(random_input(2, 8, 2), random_memory(2, 5, 8, {0, 3}), state, y);
                }).contains("outside 1..5"));
        QVERIFY(error_of([&] {
                    model->step(random_input(2, 8, 2), random_memory(2, 5, 8, {6, 3}), state, y);
                }).contains("memory_lengths[0]"));
        QVERIFY(error_of([&] {
                    model->step(random_input(2, 8, 2), random_memory(2, 5, 6, {}), state, y);
                }).contains("memory has shape"));
        QVERIFY(error_of([&] {
                    model->step(random_input(2, 8, 2), random_memory(2, 5, 8, {5, 3}), state, y);
                }).contains("memory changed"));
        QVERIFY(error_of([&] { model->step(random_input(2, 8, 2), state, y); }).contains("decoder"));
        QVERIFY(state == before);
        model->step(random_input(2, 8, 2), memory, state, y);
        QCOMPARE(state.step, int64_t(2));
    }

    // A device stepper keeps the tensors on the device and checks a step against a host shell of the
    // state (batch, step, memory): check_step must read only those, check_state the tensors too.
    void check_step_reads_only_the_host_parts_of_a_state() {
        const auto model = small_model("full", ModelKind::Decoder);
        State state = model->new_state();
        RowMatrix y;
        const Memory memory = random_memory(2, 5, 8, {5, 3});
        model->step(random_input(2, 8, 1), memory, state, y);
        State shell = state;
        for (LayerState& layer : shell.layers)
            for (AttentionState* module : {&layer.self_attention, &layer.cross_attention}) module->cache() = {};
        model->check_step(random_input(2, 8, 2), memory, shell);
        QVERIFY(error_of([&] { model->check_state(shell); }).contains("cache does not fit"));
        QVERIFY(error_of([&] { model->check_step(random_input(3, 8, 2), memory, shell); }).contains("batch"));
    }

    void a_state_from_another_model_is_refused() {
        const auto linear = small_model("linear");
        const auto full = small_model("full");
        State state = linear->new_state();
        RowMatrix y;
        linear->step(random_input(2, 8, 1), state, y);
        save_snapshot(path("linear_state.safetensors"), *linear, state);
        const QString message = error_of([&] { load_snapshot(path("linear_state.safetensors"), *full); });
        QVERIFY2(message.contains("another model"), qPrintable(message));
        // A weights file is not a snapshot.
        QVERIFY(error_of([&] {
                    load_snapshot(testing::golden_path("enc_linear", "model.safetensors"), *linear);
                }).contains("not a Stepscope state snapshot"));
    }
};

QTEST_APPLESS_MAIN(ModelErrorsTest)
#include "test_model_errors.moc"
