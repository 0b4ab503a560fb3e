// State as a value: snapshots that resume bit for bit, branches, sizes, and observed norms.
#include <QtTest>

#include <QTemporaryDir>

#include "stepscope/attention_kind.h"
#include "stepscope/intervention.h"
#include "stepscope/model.h"
#include "stepscope/observer.h"
#include "stepscope/snapshot.h"
#include "test_support.h"

using namespace stepscope;

namespace {

ModelConfig small_config(ModelKind kind, const std::string& self, const std::string& cross = "full",
                         const std::string& feature_map = "elu") {
    ModelConfig config;
    config.kind = kind;
    config.attention_type = config.self_attention_type = self;
    config.cross_attention_type = cross;
    config.n_layers = 2;
    config.n_heads = 3;
    config.query_dimensions = 4;
    config.value_dimensions = 5;
    config.feed_forward_dimensions = 20;
    config.feature_map = feature_map;
    if (feature_map != "elu" && feature_map != "relu") config.feature_map_dimensions = 16;
    return config;
}

RowMatrix input_at(int t, long batch, long width) {
    std::srand(1000 + t);
    return RowMatrix::Random(batch, width);
}

Memory fixed_memory(const ModelConfig& config, int batch) {
    std::srand(77);
    Memory memory;
    memory.batch = batch;
    memory.length = 6;
    memory.values = RowMatrix::Random(long(batch) * 6, config.effective_cross_model_dimensions());
    memory.lengths = {6, 2};
    return memory;
}

// Steps t = from..to-1 of a fixed input sequence; returns the outputs concatenated.
std::vector<float> run(const Model& model, State& state, int from, int to, const Memory& memory,
                       StepObserver* observer = nullptr) {
    std::vector<float> ys;
    RowMatrix y;
    for (int t = from; t < to; ++t) {
        const RowMatrix x = input_at(t, 2, model.config().d_model());
        if (model.config().kind == ModelKind::Decoder) model.step(x, memory, state, y, observer);
        else model.step(x, state, y, observer);
        ys.insert(ys.end(), y.data(), y.data() + y.size());
    }
    return ys;
}

// Records what an observer is told, for checks against independent computations.
struct Recorder : StepObserver {
    std::map<std::pair<int, int>, StateNorms> norms;  // (layer, role)
    std::map<std::pair<int, int>, RowMatrix> weights;
    int outputs = 0;
    void layer_output(int, const ConstMatrixRef&) override { ++outputs; }
    void attention_weights(int layer, AttentionRole role, const ConstMatrixRef& w) override {
        weights[{layer, int(role)}] = w;
    }
    void state_norms(int layer, AttentionRole role, const StateNorms& n) override { norms[{layer, int(role)}] = n; }
};

}  // namespace

class StateTest : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

private slots:
    void snapshot_at_50_resumes_bit_for_bit_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("self");
        QTest::addColumn<QString>("cross");
        QTest::addColumn<QString>("feature_map");
        QTest::addColumn<QString>("cache_precision");
        QTest::newRow("linear encoder") << int(ModelKind::Encoder) << "linear"
                                        << "full"
                                        << "elu"
                                        << "f32";
        QTest::newRow("full encoder") << int(ModelKind::Encoder) << "full"
                                      << "full"
                                      << "elu"
                                      << "f32";
        QTest::newRow("full encoder, bf16 cache") << int(ModelKind::Encoder) << "full"
                                                  << "full"
                                                  << "elu"
                                                  << "bf16";
        QTest::newRow("favor encoder (drawn omega)") << int(ModelKind::Encoder) << "linear"
                                                     << "full"
                                                     << "favor"
                                                     << "f32";
        QTest::newRow("linear decoder") << int(ModelKind::Decoder) << "linear"
                                        << "linear"
                                        << "elu"
                                        << "f32";
        QTest::newRow("full decoder") << int(ModelKind::Decoder) << "full"
                                      << "full"
                                      << "elu"
                                      << "f32";
        QTest::newRow("full decoder, bf16 cache") << int(ModelKind::Decoder) << "full"
                                                  << "full"
                                                  << "elu"
                                                  << "bf16";
        QTest::newRow("grf decoder") << int(ModelKind::Decoder) << "linear"
                                     << "linear"
                                     << "grf"
                                     << "f32";
        // Every registered kind as an encoder's and a decoder's self attention.
        for (const std::string& self : attention_kind_names()) {
            const QString name = QString::fromStdString(self);
            QTest::newRow(qPrintable(name + " encoder (registry)")) << int(ModelKind::Encoder) << name << "full"
                                                                    << "elu"
                                                                    << "f32";
            QTest::newRow(qPrintable(name + " decoder (registry)")) << int(ModelKind::Decoder) << name << "linear"
                                                                    << "elu"
                                                                    << "f32";
        }
    }

    void snapshot_at_50_resumes_bit_for_bit() {
        QFETCH(int, kind);
        QFETCH(QString, self);
        QFETCH(QString, cross);
        QFETCH(QString, feature_map);
        QFETCH(QString, cache_precision);
        ModelConfig config =
            small_config(ModelKind(kind), self.toStdString(), cross.toStdString(), feature_map.toStdString());
        config.cache_precision = cache_precision.toStdString();
        const auto model = Model::create_random(config, 11);
        const Memory memory = fixed_memory(config, 2);

        State uninterrupted = model->new_state(/*sequence_seed=*/42);
        const std::vector<float> all = run(*model, uninterrupted, 0, 80, memory);

        State first = model->new_state(42);
        run(*model, first, 0, 50, memory);
        const std::string path = (dir_.path() + "/step50.safetensors").toStdString();
        save_snapshot(path, *model, first, {{{"weights_seed", "11"}}});
        SnapshotInfo info;
        State resumed = load_snapshot(path, *model, &info);
        QCOMPARE(info.extra.at("weights_seed"), std::string("11"));
        QCOMPARE(resumed.step, int64_t(50));
        QVERIFY(resumed == first);
        const std::vector<float> rest = run(*model, resumed, 50, 80, memory);
        const std::vector<float> expected(all.end() - long(rest.size()), all.end());
        QVERIFY2(rest == expected, "resumed run differs from the uninterrupted one");
    }

    // Tensors of the right rank that disagree with each other are refused on restore, before a step
    // could read past a buffer: each damage names what is wrong.
    void inconsistent_snapshots_are_refused_data() {
        QTest::addColumn<QString>("damage");
        QTest::addColumn<QString>("named");
        QTest::newRow("cross cache shorter than its memory") << "short cache"
                                                             << "caches 1 memory elements";
        QTest::newRow("memory length past the memory") << "long length"
                                                       << "memory length 1000";
        QTest::newRow("memory length zero") << "zero length"
                                            << "memory length 0";
        QTest::newRow("layers with different memories") << "other memory"
                                                        << "another memory";
    }

    void inconsistent_snapshots_are_refused() {
        QFETCH(QString, damage);
        QFETCH(QString, named);
        const ModelConfig config = small_config(ModelKind::Decoder, "full", "full");
        const auto model = Model::create_random(config, 3);
        State state = model->new_state();
        run(*model, state, 0, 2, fixed_memory(config, 2));
        SafetensorsFile file = make_snapshot(*model, state);
        QVERIFY(restore_snapshot(*model, file) == state);
        if (damage == "short cache") {
            for (const char* part : {".0", ".1"}) {
                Tensor& t = file.tensors.at(std::string("state.1.cross") + part);
                const int64_t width = t.shape[3];
                std::vector<float> first_step;
                for (int64_t row = 0; row < t.shape[0] * t.shape[1]; ++row)
                    first_step.insert(first_step.end(), t.values.begin() + row * t.shape[2] * width,
                                      t.values.begin() + row * t.shape[2] * width + width);
                t = Tensor::f32({t.shape[0], t.shape[1], 1, width}, std::move(first_step));
            }
        } else if (damage == "long length" || damage == "zero length") {
            for (const char* layer : {"state.0.cross", "state.1.cross"})
                file.tensors.at(std::string(layer) + ".memory_lengths").integers[0] =
                    damage == "long length" ? 1000 : 0;
        } else {
            file.tensors.at("state.1.cross.memory_lengths").integers[1] = 1;
        }
        const QString message = testing::error_of([&] { restore_snapshot(*model, file); });
        QVERIFY2(message.contains(named), qPrintable(message));
    }

    // A cleared head's start travels as an extra tensor, only when some head has one: a run without
    // clears writes the tensors it always wrote, and one with clears resumes bit for bit.
    void snapshot_keeps_cleared_heads_starts() {
        const ModelConfig config = small_config(ModelKind::Decoder, "full", "full");
        const auto model = Model::create_random(config, 3);
        const Memory memory = fixed_memory(config, 2);
        State state = model->new_state();
        run(*model, state, 0, 2, memory);
        State plain = state;
        run(*model, plain, 2, 4, memory);
        for (const auto& [name, tensor] : make_snapshot(*model, plain).tensors)
            QVERIFY2(name.find("starts") == std::string::npos, name.c_str());
        QVERIFY(restore_snapshot(*model, make_snapshot(*model, plain)).layers[0].self_attention.cache().starts.empty());

        clear_head_cache(*model, state, 0, AttentionRole::Self, 1);
        clear_head_cache(*model, state, 1, AttentionRole::Cross, 2);
        run(*model, state, 2, 4, memory);
        SafetensorsFile file = make_snapshot(*model, state);
        QCOMPARE(file.tensors.at("state.0.starts").integers, (std::vector<int64_t>{0, 2, 0, 0, 2, 0}));
        QCOMPARE(file.tensors.at("state.1.cross.starts").integers, (std::vector<int64_t>{0, 0, 6, 0, 0, 6}));
        QCOMPARE(file.tensors.count("state.1.starts"), size_t(0));
        State resumed = restore_snapshot(*model, file);
        QVERIFY(resumed == state);
        QVERIFY(resumed != plain);
        QCOMPARE(run(*model, resumed, 4, 6, memory), run(*model, state, 4, 6, memory));

        file.tensors.at("state.0.starts").integers[1] = 1000;
        const QString message = testing::error_of([&] { restore_snapshot(*model, file); });
        QVERIFY2(message.contains("state.0.starts"), qPrintable(message));
    }

    // A bf16 cache holds half the bytes, is saved as BF16 tensors (exactly what it holds), and a model
    // that keeps its cache in f32 refuses it rather than reading its bits as floats.
    void a_bf16_cache_is_saved_as_bf16_and_kept_to_its_model() {
        ModelConfig config = small_config(ModelKind::Encoder, "full");
        const auto exact = Model::create_random(config, 5);
        config.cache_precision = "bf16";
        const auto halved = Model::from_tensors(config, exact->tensors());
        State exact_state = exact->new_state(), halved_state = halved->new_state();
        run(*exact, exact_state, 0, 20, {});
        run(*halved, halved_state, 0, 20, {});
        const KeyValueCache& cache = halved_state.layers[0].self_attention.cache();
        QVERIFY(cache.bf16());
        QCOMPARE(cache.keys.size(), 0L);
        QCOMPARE(halved_state.bytes() * 2, exact_state.bytes());

        const SafetensorsFile file = make_snapshot(*halved, halved_state);
        QCOMPARE(file.tensors.at("state.0.0").dtype, DType::BF16);
        QCOMPARE(file.tensors.at("state.0.1").dtype, DType::BF16);
        QCOMPARE(make_snapshot(*exact, exact_state).tensors.at("state.0.0").dtype, DType::F32);
        QVERIFY(restore_snapshot(*halved, file) == halved_state);

        RowMatrix y;
        const RowMatrix x = input_at(20, 2, config.d_model());
        const QString message = testing::error_of([&] { exact->step(x, halved_state, y); });
        QVERIFY2(message.contains("kept in bf16") && message.contains("cache_precision"), qPrintable(message));
    }

    void a_state_of_another_shape_is_refused_before_stepping() {
        const ModelConfig config = small_config(ModelKind::Encoder, "linear");
        ModelConfig wider = config;
        wider.n_heads = 2;
        wider.value_dimensions = 7;
        wider.query_dimensions = 6;
        const auto model = Model::create_random(config, 3), other = Model::create_random(wider, 3);
        State state = other->new_state();
        RowMatrix y;
        other->step(input_at(0, 2, wider.d_model()), state, y);
        QVERIFY(!testing::error_of([&] { model->check_state(state); }).isEmpty());
        const RowMatrix x = input_at(1, 2, config.d_model());
        const State before = state;
        QVERIFY(testing::error_of([&] { model->step(x, state, y); }).contains("sums do not fit"));
        QVERIFY(state == before);
        State unstarted = model->new_state();
        unstarted.layers[1].self_attention.started = true;
        QVERIFY(testing::error_of([&] { model->check_state(unstarted); }).contains("its step is 0"));
    }

    void a_copy_branches_the_run() {
        const auto model = Model::create_random(small_config(ModelKind::Encoder, "full"), 2);
        State state = model->new_state();
        run(*model, state, 0, 10, {});
        State branch = state;
        const auto a = run(*model, state, 10, 20, {});
        QVERIFY(branch != state);
        const auto b = run(*model, branch, 10, 20, {});
        QCOMPARE(a, b);
        QVERIFY(branch == state);
    }

    void random_feature_maps_redraw_per_sequence() {
        const auto model = Model::create_random(small_config(ModelKind::Encoder, "linear", "full", "favor"), 2);
        State one = model->new_state(1), same = model->new_state(1), other = model->new_state(2);
        const auto a = run(*model, one, 0, 5, {});
        QCOMPARE(run(*model, same, 0, 5, {}), a);
        QVERIFY(run(*model, other, 0, 5, {}) != a);
        QVERIFY(one.layers[0].self_attention.omega.size() > 0);
    }

    void linear_state_is_constant_and_cache_grows_by_one_step() {
        const auto linear = Model::create_random(small_config(ModelKind::Encoder, "linear"), 1);
        State state = linear->new_state();
        run(*linear, state, 0, 1, {});
        const size_t after_one = state.bytes();
        run(*linear, state, 1, 200, {});
        QCOMPARE(state.bytes(), after_one);

        const auto full = Model::create_random(small_config(ModelKind::Encoder, "full"), 1);
        State cache = full->new_state();
        run(*full, cache, 0, 100, {});
        const KeyValueCache& kv = cache.layers[0].self_attention.cache();
        QCOMPARE(kv.length, 100);
        // Capacity grows geometrically: never more than twice what is used.
        QVERIFY(kv.capacity() >= 100 && kv.capacity() <= 200);
        QVERIFY(cache.bytes() >= size_t(2 * 100 * 2 * 3 * (4 + 5)) * sizeof(float));
    }

    // Each component a kind declares is reported as the norm of its snapshot tensor ("state.L.c"), head by head.
    void observed_norms_match_independent_computation() {
        for (const std::string& type : attention_kind_names()) {
            const AttentionCapabilities& kind = attention_capabilities(type);
            const auto model = Model::create_random(small_config(ModelKind::Encoder, type), 5);
            State state = model->new_state();
            Recorder recorder;
            run(*model, state, 0, 6, {}, &recorder);
            QCOMPARE(recorder.outputs, 6 * 2);
            const StateNorms& norms = recorder.norms.at({1, int(AttentionRole::Self)});
            const TensorMap tensors = state_tensors(*model, state);
            QCOMPARE(norms.components.size(), kind.components.size());
            for (size_t c = 0; c < kind.components.size(); ++c) {
                // S (N,H,F,M), Z (N,H,F), or keys (N,H,T,D) and values (N,H,T,M): 6 heads in all.
                const Tensor& tensor = tensors.at("state.1." + std::to_string(c));
                const long per_head = tensor.numel() / 6;
                for (int r = 0; r < 6; ++r) {
                    double squares = 0;
                    for (long i = 0; i < per_head; ++i) squares += std::pow(tensor.values[r * per_head + i], 2);
                    const double expected = std::sqrt(squares);
                    QVERIFY2(std::abs(norms.components[c].at(size_t(r)) - expected) < 1e-4 * (1 + expected),
                             type.c_str());
                }
            }
            if (state_grows(kind)) {
                QCOMPARE(norms.cache_length, 6);
                const RowMatrix& w = recorder.weights.at({0, int(AttentionRole::Self)});
                QCOMPARE(w.cols(), 6L);
                for (int r = 0; r < w.rows(); ++r) QVERIFY(std::abs(w.row(r).sum() - 1.0f) < 1e-5f);
            }
        }
    }

    void cross_attention_weights_respect_memory_lengths() {
        const ModelConfig config = small_config(ModelKind::Decoder, "full", "full");
        const auto model = Model::create_random(config, 5);
        State state = model->new_state();
        Recorder recorder;
        run(*model, state, 0, 2, fixed_memory(config, 2), &recorder);
        const RowMatrix& w = recorder.weights.at({0, int(AttentionRole::Cross)});
        QCOMPARE(w.rows(), 2L * 3);
        QCOMPARE(w.cols(), 6L);
        for (int h = 0; h < 3; ++h) {
            QCOMPARE(w.row(3 + h).tail(4).sum(), 0.0f);  // batch element 1 sees 2 of 6
            QVERIFY(std::abs(w.row(3 + h).sum() - 1.0f) < 1e-5f);
        }
        QCOMPARE(recorder.norms.at({0, int(AttentionRole::Cross)}).cache_length, 6);
    }
};

QTEST_APPLESS_MAIN(StateTest)
#include "test_state.moc"
