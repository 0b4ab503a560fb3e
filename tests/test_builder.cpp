// Builders and config: reference defaults, strict parameter names and types, impossible values.
// oneTBB before Qt, whose emit macro breaks oneTBB's headers.
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "core/parameters.h"
#include "stepscope/attention_kind.h"
#include "stepscope/builder.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"
#include "stepscope/model.h"
#include "stepscope/stepper.h"
#include "test_support.h"

using namespace stepscope;
using testing::error_of;

namespace {

// Every tensor of `a` in `b` with the same shape and the same bits (NaN-safe through memcmp).
bool same_tensors(const TensorMap& a, const TensorMap& b) {
    if (a.size() != b.size()) return false;
    for (const auto& [name, tensor] : a) {
        const auto other = b.find(name);
        if (other == b.end() || other->second.shape != tensor.shape ||
            other->second.values.size() != tensor.values.size())
            return false;
        if (std::memcmp(tensor.values.data(), other->second.values.data(), tensor.values.size() * sizeof(float)) != 0)
            return false;
    }
    return true;
}

// A field of /proc/self/status in bytes (VmRSS, VmHWM), or -1 where there is none.
double status_bytes(const char* field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind(std::string(field) + ":", 0) == 0)
            return 1024.0 * std::stod(line.substr(std::strlen(field) + 1));
    return -1;
}

// Resets VmHWM to the current resident size (Linux 4.0 and later); false where that is not allowed.
bool reset_peak_resident() {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    clear.flush();
    return bool(clear);
}

ModelConfig small_config(ModelKind kind, const std::string& attention) {
    ModelConfig config =
        kind == ModelKind::Encoder ? RecurrentEncoderBuilder().config() : RecurrentDecoderBuilder().config();
    config.n_layers = 2;
    config.n_heads = 2;
    config.query_dimensions = config.value_dimensions = 4;
    config.feed_forward_dimensions = 12;
    if (kind == ModelKind::Encoder) config.attention_type = attention;
    else config.self_attention_type = attention;
    return config;
}

}  // namespace

class BuilderTest : public QObject {
    Q_OBJECT

private slots:
    void defaults_are_the_reference_builders() {
        const ModelConfig config = RecurrentEncoderBuilder().config();
        QCOMPARE(config.n_layers, 4);
        QCOMPARE(config.n_heads, 4);
        QCOMPARE(config.query_dimensions, 64);
        QCOMPARE(config.value_dimensions, 64);
        QCOMPARE(config.feed_forward_dimensions, 1024);
        QCOMPARE(config.attention_type, std::string("full"));
        QCOMPARE(config.activation, std::string("relu"));
        QVERIFY(config.final_normalization);
        QCOMPARE(config.d_model(), 256);
        QCOMPARE(config.eps, 1e-6);
        QVERIFY(!config.softmax_temp.has_value());
    }

    void decoder_cross_defaults_follow_the_self_attention() {
        auto builder =
            RecurrentDecoderBuilder::from_kwargs({{"n_heads", int64_t(3)}, {"value_dimensions", int64_t(5)}});
        const ModelConfig& c = builder.config();
        QCOMPARE(c.effective_cross_n_heads(), 3);
        QCOMPARE(c.effective_cross_value_dimensions(), 5);
        QCOMPARE(c.effective_cross_model_dimensions(), 15);
        builder.set("cross_n_heads", int64_t(2));
        QCOMPARE(builder.config().effective_cross_model_dimensions(), 10);
    }

    void from_json_builds_the_seed_example() {
        const auto builder = RecurrentEncoderBuilder::from_json(
            R"({"attention_type": "linear", "n_layers": 8, "n_heads": 12, "query_dimensions": 32,
                "value_dimensions": 32, "feed_forward_dimensions": 1536, "dropout": 0.1, "softmax_temp": null})");
        QCOMPARE(builder.config().d_model(), 384);
        QCOMPARE(builder.config().attention_type, std::string("linear"));
    }

    void config_json_round_trips() {
        auto builder = RecurrentDecoderBuilder::from_kwargs(
            {{"self_attention_type", std::string("linear")}, {"softmax_temp", 0.25}, {"cross_n_heads", int64_t(2)}});
        const ModelConfig& config = builder.config();
        QCOMPARE(config_from_json(config_to_json(config)), config);
    }

    void rejects_with_the_key_named_data() {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("key");
        QTest::newRow("unknown key") << R"({"n_layer": 2})"
                                     << "n_layer";
        QTest::newRow("zero heads") << R"({"n_heads": 0})"
                                    << "n_heads";
        QTest::newRow("negative dims") << R"({"query_dimensions": -4})"
                                       << "query_dimensions";
        QTest::newRow("unknown attention") << R"({"attention_type": "reformer"})"
                                           << "attention_type";
        QTest::newRow("wrong type") << R"({"n_layers": "eight"})"
                                    << "n_layers";
        QTest::newRow("fractional int") << R"({"n_layers": 2.5})"
                                        << "n_layers";
        QTest::newRow("bool for int") << R"({"value_dimensions": true})"
                                      << "value_dimensions";
        QTest::newRow("activation") << R"({"activation": "tanh"})"
                                    << "activation";
        QTest::newRow("dropout") << R"({"dropout": 1.5})"
                                 << "dropout";
        QTest::newRow("softmax_temp") << R"({"softmax_temp": -1})"
                                      << "softmax_temp";
        QTest::newRow("feature map") << R"({"feature_map": "cosine"})"
                                     << "feature_map";
        QTest::newRow("feature dims") << R"({"feature_map": "favor", "feature_map_dimensions": -3})"
                                      << "feature_map_dimensions";
        QTest::newRow("eps") << R"({"eps": -0.1})"
                             << "eps";
        QTest::newRow("precision") << R"({"precision": "f16"})"
                                   << "precision";
        QTest::newRow("array value") << R"({"n_layers": [1]})"
                                     << "n_layers";
        QTest::newRow("wrong kind") << R"({"kind": "decoder"})"
                                    << "kind";
    }

    void rejects_with_the_key_named() {
        QFETCH(QString, json);
        QFETCH(QString, key);
        const QString message = error_of([&] { RecurrentEncoderBuilder::from_json(json.toStdString()); });
        QVERIFY2(!message.isEmpty(), "no error");
        QVERIFY2(message.contains("'" + key + "'"), qPrintable(message));
    }

    // The registry answers for every kind the builders accept, and what it says matches what a step shows.
    void attention_kinds_say_what_they_keep_and_offer() {
        QCOMPARE(attention_kind_names(), self_attention_types());
        for (const std::string& name : self_attention_types()) {
            const AttentionCapabilities& kind = attention_capabilities(name);
            QCOMPARE(kind.name, name);
            // What a kind keeps is named by its components: S (and Z), or a cache of K and V that grows.
            const bool sums = !state_grows(kind);
            QCOMPARE(kind.components.size(), size_t(sums && !kind.normalizer ? 1 : 2));
            QCOMPARE(kind.map_on_request, sums);
            QCOMPARE(kind.feature_map, sums);
            QCOMPARE(kind.spectrum, sums);
            QCOMPARE(kind.scale_head, sums);
            QCOMPARE(kind.clear_head, !sums);
            QCOMPARE(kind.cache_entropy, !sums);
            const auto& cross = cross_attention_types();
            QCOMPARE(kind.cross, std::find(cross.begin(), cross.end(), name) != cross.end());

            struct Norms : StepObserver {
                StateNorms norms;
                void state_norms(int, AttentionRole, const StateNorms& n) override { norms = n; }
            } observed;
            ModelConfig config = RecurrentEncoderBuilder().config();
            config.attention_type = name;
            config.n_layers = 1;
            config.query_dimensions = config.value_dimensions = 4;
            config.feed_forward_dimensions = 8;
            const auto model = Model::create_random(config, 1);
            State state = model->new_state();
            RowMatrix y;
            model->step(RowMatrix::Ones(2, config.d_model()), state, y, &observed);
            QCOMPARE(observed.norms.components.size(), kind.components.size());
            QCOMPARE(model->attention_modules().front().kind, &kind);
            // What a step reports per head is what the kind declares, and nothing it does not.
            const size_t rows = 2 * size_t(config.n_heads);
            for (const std::vector<float>& component : observed.norms.components) QCOMPARE(component.size(), rows);
            QCOMPARE(observed.norms.write_strength.size(), kind.write_strength ? rows : size_t(0));
            QCOMPARE(observed.norms.forget_gate.size(), kind.forget_gate ? rows : size_t(0));
            QCOMPARE(observed.norms.prediction_error.size(), kind.prediction_error ? rows : size_t(0));
            // Its gates are weights under the reference's naming, one output per head.
            for (const std::string& gate : kind.gates)
                QCOMPARE(model->tensors().at("layers.0.attention." + gate + ".weight").shape,
                         (std::vector<int64_t>{config.n_heads, config.d_model()}));
            int64_t listed = 0;
            for (const ParameterSpec& spec : parameter_specs(config)) {
                int64_t count = 1;
                for (int64_t d : spec.shape) count *= d;
                listed += count;
            }
            QCOMPARE(parameter_count(config), listed);
            // The memory estimate never falls short of what the state holds, as it grows.
            for (int t = 1; t < 40; ++t) {
                model->step(RowMatrix::Ones(2, config.d_model()), state, y);
                RunShape run;
                run.batch = 2;
                run.steps = state.step;
                QVERIFY2(estimate_state_bytes(config, run) >= double(state.bytes()), name.c_str());
            }
            // A device the kind does not declare refuses it by name, before any GPU is looked for.
            const QString refusal = error_of([&] { make_stepper(model, Device::Cuda); });
            const bool on_cuda = kind.cuda != CudaKernel::None;
            if (!on_cuda) QVERIFY2(refusal.contains("'" + QString::fromStdString(name) + "'"), qPrintable(refusal));
            QCOMPARE(QString::fromStdString(device_refusal(*model, Device::Cuda)).isEmpty(), on_cuda);
        }
        QVERIFY(!attention_capabilities("causal-linear").cross);
        QVERIFY(error_of([] { attention_capabilities("sparse"); }).contains("full, linear, causal-linear"));
    }

    // A kind's own parameters come from its declaration: --set and JSON accept them within the declared range,
    // validation refuses them out of range or on a kind that does not declare them, and the model reads them.
    void kind_parameters_are_read_from_their_declaration() {
        int declared = 0;
        for (const std::string& name : attention_kind_names()) {
            for (const KindParameter& parameter : attention_capabilities(name).parameters) {
                ++declared;
                QVERIFY(parameter.minimum <= parameter.default_value && parameter.default_value <= parameter.maximum);
                QVERIFY(!parameter.label.empty() && !parameter.help.empty());
                ModelConfig config = RecurrentEncoderBuilder().config();
                config.attention_type = name;
                config.n_layers = 1;
                config.query_dimensions = config.value_dimensions = 4;
                config.feed_forward_dimensions = 8;
                QCOMPARE(config.kind_parameter(name, parameter.name), parameter.default_value);
                const auto with = [&](double value) {
                    ModelConfig c = config;
                    set_parameter(c, parameter.name, value);
                    return c;
                };
                for (double value : {parameter.minimum, parameter.maximum})
                    QCOMPARE(config_from_json(config_to_json(with(value))).kind_parameter(name, parameter.name), value);
                const auto outputs_with = [&](double value) {
                    const ModelConfig c = with(value);
                    const auto model = Model::create_random(c, 1);
                    State state = model->new_state();
                    RowMatrix x = RowMatrix::Ones(2, c.d_model()), y;
                    for (int t = 0; t < 4; ++t) model->step(x, state, y);
                    return y;
                };
                QVERIFY((outputs_with(parameter.minimum) - outputs_with(parameter.maximum)).norm() > 1e-6);

                ModelConfig out_of_range = config;
                set_parameter(out_of_range, parameter.name, parameter.maximum + 1);
                const QString range = error_of([&] { validate(out_of_range); });
                QVERIFY2(range.contains("'" + QString::fromStdString(parameter.name) + "' must be in"),
                         qPrintable(range));
                for (const std::string& other : attention_kind_names()) {
                    const auto& others = attention_capabilities(other).parameters;
                    if (std::any_of(others.begin(), others.end(),
                                    [&](const KindParameter& p) { return p.name == parameter.name; }))
                        continue;
                    ModelConfig foreign = config;
                    foreign.attention_type = other;
                    set_parameter(foreign, parameter.name, parameter.default_value);
                    const QString message = error_of([&] { validate(foreign); });
                    QVERIFY2(message.contains("belongs to another attention kind"), qPrintable(message));
                }
            }
        }
        if (!declared) QSKIP("no kind declares a parameter in this build (the toy kind's build has one)");
    }

    void precisions_and_activations_parse_from_one_table() {
        std::set<Precision> precisions;
        for (const std::string& name : precision_names()) precisions.insert(precision_from_name(name));
        QCOMPARE(precisions.size(), precision_names().size());
        std::set<Activation> activations;
        for (const std::string& name : activation_names()) activations.insert(activation_from_name(name));
        QCOMPARE(activations.size(), activation_names().size());
        QVERIFY(error_of([] { precision_from_name("f64"); }).contains("precision"));
        QVERIFY(error_of([] { activation_from_name("tanh"); }).contains("activation"));
        ModelConfig config = RecurrentEncoderBuilder().config();
        config.n_layers = 1;
        config.precision = "bf16";
        config.activation = "gelu";
        const auto model = Model::create_random(config, 1);
        QCOMPARE(model->precision(), Precision::Bf16);
        QCOMPARE(model->activation(), Activation::Gelu);
    }

    void decoder_rejects_unknown_cross_attention() {
        const QString message = error_of([] {
            RecurrentDecoderBuilder::from_kwargs({{"cross_attention_type", std::string("causal-linear")}});
        });
        QVERIFY2(message.contains("cross_attention_type"), qPrintable(message));
    }

    void malformed_json_is_an_error() {
        QVERIFY(error_of([] { RecurrentEncoderBuilder::from_json("{\"n_layers\": "); }).contains("JSON"));
        QVERIFY(error_of([] { RecurrentEncoderBuilder::from_json("[1, 2]"); }).contains("object"));
    }

    void a_rejected_set_leaves_the_builder_unchanged() {
        RecurrentEncoderBuilder builder;
        builder.set("n_layers", int64_t(3));
        QVERIFY(!error_of([&] { builder.set("n_layers", std::string("x")); }).isEmpty());
        QCOMPARE(builder.config().n_layers, 3);
    }

    void get_builds_a_model_with_the_reference_parameter_names() {
        auto builder = RecurrentEncoderBuilder::from_kwargs({{"n_layers", int64_t(2)},
                                                             {"n_heads", int64_t(2)},
                                                             {"query_dimensions", int64_t(4)},
                                                             {"value_dimensions", int64_t(4)},
                                                             {"feed_forward_dimensions", int64_t(16)}});
        const auto model = builder.get(7);
        const TensorMap& tensors = model->tensors();
        QVERIFY(tensors.count("layers.1.attention.query_projection.weight"));
        QCOMPARE(tensors.at("layers.0.linear1.weight").shape, (std::vector<int64_t>{16, 8}));
        QVERIFY(tensors.count("norm.weight"));
        QCOMPARE(tensors.size(), parameter_specs(builder.config()).size());
        // Same seed, same weights; another seed, other weights.
        QCOMPARE(builder.get(7)->tensors().at("layers.0.linear1.weight").values,
                 tensors.at("layers.0.linear1.weight").values);
        QVERIFY(builder.get(8)->tensors().at("layers.0.linear1.weight").values !=
                tensors.at("layers.0.linear1.weight").values);
    }

    void an_invalid_builder_builds_nothing() {
        RecurrentEncoderBuilder builder;
        builder.set("n_heads", int64_t(0));
        QVERIFY(error_of([&] { builder.get(); }).contains("n_heads"));
    }

    // Layers draw and pack on oneTBB's workers: the weights must not depend on how many there are.
    void seeded_weights_do_not_depend_on_the_thread_count() {
        ModelConfig config = small_config(ModelKind::Encoder, "linear");
        config.n_layers = 5;
        config.feed_forward_dimensions = 300;  // several panels and draw tasks
        TensorMap serial, parallel;
        {
            const tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
            serial = Model::create_random(config, 11)->tensors();
        }
        {
            const tbb::global_control many(tbb::global_control::max_allowed_parallelism, 4);
            parallel = Model::create_random(config, 11)->tensors();
        }
        QVERIFY(same_tensors(serial, parallel));
        QVERIFY(same_tensors(serial, random_parameters(config, 11)));
        // Uniform +-1/sqrt(fan_in), as the reference draws a Linear's weight and bias.
        const std::vector<float>& w = serial.at("layers.0.linear2.weight").values;
        const float bound = 1 / std::sqrt(300.0f);
        QVERIFY(*std::max_element(w.begin(), w.end()) < bound && *std::min_element(w.begin(), w.end()) >= -bound);
        QVERIFY(*std::max_element(w.begin(), w.end()) > 0.9f * bound);
    }

    // The model holds each weight once, packed for its kernels; what it gives back for saving must be
    // exactly what it was given, for every kind (the gates included), role and precision.
    void tensors_come_back_as_given_for_every_kind_and_precision() {
        for (const ModelKind kind : {ModelKind::Encoder, ModelKind::Decoder})
            for (const std::string& attention : self_attention_types())
                for (const std::string& precision : precision_names()) {
                    ModelConfig config = small_config(kind, attention);
                    config.precision = precision;
                    const TensorMap given = random_parameters(config, 5);
                    const auto model = Model::from_tensors(config, given);
                    const std::string what =
                        attention + " " + precision + (kind == ModelKind::Decoder ? " decoder" : "");
                    QVERIFY2(same_tensors(model->tensors(), given), what.c_str());
                    QCOMPARE(model->tensor_shapes().size(), given.size());
                    for (const auto& [name, shape] : model->tensor_shapes()) QCOMPARE(shape, given.at(name).shape);
                    // Moved in, the map is freed layer by layer into the same model.
                    TensorMap moved = given;
                    QVERIFY2(same_tensors(Model::from_tensors(config, std::move(moved))->tensors(), given),
                             what.c_str());
                }
    }

    void a_stored_omega_comes_back_too() {
        ModelConfig config = small_config(ModelKind::Encoder, "linear");
        config.feature_map = "favor";
        TensorMap given = random_parameters(config, 5);
        const auto drawn = Model::create_random(config, 5);
        State state = drawn->new_state(3);
        RowMatrix y;
        drawn->step(RowMatrix::Ones(1, config.d_model()), state, y);
        const RowMatrix& omega = state.layers[1].self_attention.omega;
        QVERIFY(omega.size() > 0);
        given["layers.1.attention.inner_attention.feature_map.omega"] =
            Tensor::f32({omega.rows(), omega.cols()}, std::vector<float>(omega.data(), omega.data() + omega.size()));
        const auto model = Model::from_tensors(config, given);
        QVERIFY(same_tensors(model->tensors(), given));
        QCOMPARE(model->tensor_shapes().at("layers.1.attention.inner_attention.feature_map.omega"),
                 (std::vector<int64_t>{omega.rows(), omega.cols()}));
    }

    // The estimate checked against the memory limit before a build must cover what the build takes:
    // the growth of the resident high-water mark over building a 100 MB model (large enough that the
    // process's own allocations are noise), and not exceed it by more than the 25% memory_budget.h states.
    // The estimate allows for every worker building a layer at once; on a loaded machine fewer may, so
    // the bound from above is checked on one worker, where the peak does not depend on the scheduler.
    void model_estimate_covers_the_measured_peak_within_25_percent() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        QSKIP("a sanitizer's shadow memory and quarantine are not the model's");
#endif
        ModelConfig config = small_config(ModelKind::Encoder, "linear");
        config.n_layers = 8;
        config.n_heads = 8;
        config.query_dimensions = config.value_dimensions = 64;
        config.feed_forward_dimensions = 2048;
        struct Measured {
            double estimate = 0, peak = -1;
            QString what;
        };
        auto measure = [&config](const QString& how) {
            Measured m;
            const double before = status_bytes("VmRSS");
            if (before < 0 || !reset_peak_resident()) return m;
            {
                const auto model = Model::create_random(config, 1);
                m.peak = status_bytes("VmHWM") - before;
            }
            m.estimate = estimate_model_bytes(config);
            m.what = QString("%1, %2: estimate %3 MB, measured peak %4 MB")
                         .arg(QString::fromStdString(config.precision), how)
                         .arg(m.estimate / 1e6, 0, 'f', 1)
                         .arg(m.peak / 1e6, 0, 'f', 1);
            qInfo("%s", qPrintable(m.what));
            return m;
        };
        for (const std::string& precision : {std::string("f32"), std::string("bf16")}) {
            config.precision = precision;
            const Measured every = measure("every worker");
            if (every.peak < 0) QSKIP("no /proc/self/status or clear_refs here");
            QVERIFY2(every.estimate >= every.peak, qPrintable(every.what));
            Measured one;
            tbb::task_arena(1).execute([&] { one = measure("one worker"); });
            QVERIFY2(one.estimate >= one.peak, qPrintable(one.what));
            QVERIFY2(one.estimate <= 1.25 * one.peak, qPrintable(one.what));
        }
    }
};

QTEST_APPLESS_MAIN(BuilderTest)
#include "test_builder.moc"
