// Hostile input (issue 10): refused early, in one line, within the memory limit; never a crash or bad_alloc.
#include <QtTest>

#include <QDir>
#include <QProcess>
#include <QTemporaryDir>

#include <sys/stat.h>

#include <cmath>
#include <limits>

#include "model_panel.h"
#include "core/parameters.h"
#include "session/input_source.h"
#include "session/session.h"
#include "session/session_spec.h"
#include "stepscope/config.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"
#include "stepscope/model.h"
#include "stepscope/safetensors.h"
#include "stepscope/snapshot.h"
#include "test_support.h"
#include "ui_test_support.h"

using namespace stepscope;
using stepscope::testing::LimitScope;
using stepscope::testing::error_of;

namespace {

constexpr const char* kLimitVariable = "STEPSCOPE_MAX_MEMORY";

struct CliResult {
    int exit_code = -1;
    QString stdout_text;
    QString stderr_text;
};

// The binary with `set` added to the environment and `unset` removed from it.
CliResult run_cli(const QStringList& arguments, const QMap<QString, QString>& set = {}, const QStringList& unset = {}) {
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    for (auto it = set.cbegin(); it != set.cend(); ++it) environment.insert(it.key(), it.value());
    for (const QString& name : unset) environment.remove(name);
    QProcess process;
    process.setProcessEnvironment(environment);
    process.start(STEPSCOPE_BINARY, arguments);
    process.waitForFinished(120000);
    return {process.exitCode(), QString::fromUtf8(process.readAllStandardOutput()),
            QString::fromUtf8(process.readAllStandardError())};
}

// Exit code 2 and exactly one line on stderr holding `clue`.
#define VERIFY_REFUSED_IN_ONE_LINE(result, clue)                                     \
    do {                                                                             \
        const CliResult& r_ = (result);                                              \
        QVERIFY2(r_.exit_code == 2, qPrintable(r_.stderr_text));                     \
        QVERIFY2(r_.stderr_text.endsWith('\n') && r_.stderr_text.count('\n') == 1,   \
                 qPrintable("not one line: " + r_.stderr_text));                     \
        QVERIFY2(r_.stderr_text.contains(clue), qPrintable(r_.stderr_text));         \
        QVERIFY2(!r_.stderr_text.contains("bad_alloc"), qPrintable(r_.stderr_text)); \
    } while (0)

ModelConfig small_config(const std::string& attention = "full") { return ui::testing::small_spec(attention).config; }

ModelConfig small_decoder(const std::string& cross = "full") {
    ModelConfig config = small_config();
    config.kind = ModelKind::Decoder;
    config.self_attention_type = "linear";
    config.cross_attention_type = cross;
    config.cross_n_heads = 3;
    config.cross_value_dimensions = 5;
    config.cross_query_dimensions = 4;
    config.cross_model_dimensions = 6;
    return config;
}

// A safetensors file of the given header text, padded, and no data.
QByteArray file_with_header(const std::string& header) {
    QByteArray bytes;
    for (int i = 0; i < 8; ++i) bytes.append(char(uint8_t(uint64_t(header.size()) >> (8 * i))));
    bytes.append(header.data(), qsizetype(header.size()));
    return bytes;
}

void write_file(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    QCOMPARE(file.write(bytes), bytes.size());
}

// A weights file holding only a config in its metadata: what a hostile file claims.
void write_claim(const QString& path, const std::string& config_json) {
    SafetensorsFile file;
    file.metadata["config"] = config_json;
    file.tensors["x"] = Tensor::f32({1}, {0.0f});
    write_safetensors(path.toStdString(), file);
}

bool one_line(const QString& message) { return !message.isEmpty() && !message.contains('\n'); }

}  // namespace

class HostileInputTest : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString path(const QString& name) const { return dir_.filePath(name); }

private slots:
    // --- the memory limit ---------------------------------------------------------------

    void byte_counts_parse_with_suffixes() {
        QCOMPARE(parse_byte_count("1048576"), uint64_t(1048576));
        QCOMPARE(parse_byte_count("64K"), uint64_t(64) << 10);
        QCOMPARE(parse_byte_count("512m"), uint64_t(512) << 20);
        QCOMPARE(parse_byte_count("2G"), uint64_t(2) << 30);
        QCOMPARE(parse_byte_count("2GB"), uint64_t(2) << 30);
        QCOMPARE(parse_byte_count("1T"), uint64_t(1) << 40);
        QCOMPARE(parse_byte_count(" 1.5G "), uint64_t(3) << 29);
        for (const char* bad :
             {"", "abc", "0", "-1", "0.1", "1..5G", ".", "2X", "G", "99999999999999999999", "16777216T"}) {
            const QString message = error_of([&] { parse_byte_count(bad); });
            QVERIFY2(message.contains(kLimitVariable), bad);
            QVERIFY2(one_line(message), bad);
        }
    }

    void the_limit_is_the_variable_or_the_available_memory() {
        {
            LimitScope limit("3M");
            QCOMPARE(memory_limit(), uint64_t(3) << 20);
        }
        {
            LimitScope limit("lots");
            QVERIFY(error_of([] { memory_limit(); }).contains("'lots'"));
        }
        const bool had = qEnvironmentVariableIsSet(kLimitVariable);
        const QByteArray previous = qgetenv(kLimitVariable);
        qunsetenv(kLimitVariable);
        const uint64_t available = memory_limit();
        if (had) qputenv(kLimitVariable, previous);
        QVERIFY(available > (uint64_t(16) << 20));
        QVERIFY(available < std::numeric_limits<uint64_t>::max());
    }

    void a_refusal_states_the_estimate_and_the_limit() {
        LimitScope limit("2G");
        const QString message = error_of([] { require_memory(6.4e9, "this model"); });
        QCOMPARE(message,
                 QString(
                     "refused: this model needs about 6.4 GB, over the memory limit of 2.1 GB (STEPSCOPE_MAX_MEMORY)"));
        QVERIFY(error_of([] { require_memory(2.0e9, "this model"); }).isEmpty());
    }

    void the_weight_count_agrees_with_the_tensor_list_data() {
        QTest::addColumn<int>("which");
        QTest::newRow("encoder") << 0;
        QTest::newRow("decoder, own cross widths") << 1;
        QTest::newRow("decoder, default cross widths") << 2;
    }

    void the_weight_count_agrees_with_the_tensor_list() {
        QFETCH(int, which);
        ModelConfig config = which == 0 ? small_config() : small_decoder();
        if (which == 2) config.cross_n_heads = config.cross_value_dimensions = config.cross_model_dimensions = 0;
        int64_t listed = 0;
        for (const auto& spec : parameter_specs(config)) listed += numel_of(spec.shape);
        QCOMPARE(parameter_count(config), listed);
        QVERIFY(estimate_model_bytes(config) >= 4.0 * sizeof(float) * double(listed));
    }

    // The 4 GB weight check of old left out cross projections: cross heads alone now count.
    void cross_projections_count_in_the_model_estimate() {
        ModelConfig narrow = small_decoder();
        ModelConfig wide = narrow;
        wide.cross_n_heads = 300;
        wide.cross_query_dimensions = wide.cross_value_dimensions = 64;
        QVERIFY(estimate_model_bytes(wide) > estimate_model_bytes(narrow) + 4.0 * 300 * 64 * 16);
    }

    // The state a run reaches is within its estimate, doubling and all.
    void a_full_attention_state_stays_within_its_estimate() {
        const ModelConfig config = small_config("full");
        const auto model = Model::create_random(config, 1);
        State state = model->new_state();
        RowMatrix x = RowMatrix::Random(3, config.d_model()), y;
        for (int t = 1; t <= 70; ++t) {
            model->step(x, state, y);
            RunShape run;
            run.batch = 3;
            run.steps = t;
            QVERIFY2(double(state.bytes()) <= estimate_state_bytes(config, run), qPrintable(QString::number(t)));
        }
        // The estimate follows the cache's doubling: one step past a full cache doubles its room.
        RunShape at_64, at_65;
        at_64.batch = at_65.batch = 3;
        at_64.steps = 64;
        at_65.steps = 65;
        QVERIFY(estimate_state_bytes(config, at_65) > 1.9 * estimate_state_bytes(config, at_64));
        // A bfloat16 cache is estimated at half the bytes, and its state stays within that.
        ModelConfig halved = config;
        halved.cache_precision = "bf16";
        QCOMPARE(2 * estimate_state_bytes(halved, at_65), estimate_state_bytes(config, at_65));
        const auto halved_model = Model::from_tensors(halved, model->tensors());
        State halved_state = halved_model->new_state();
        for (int t = 0; t < 65; ++t) halved_model->step(x, halved_state, y);
        QVERIFY(double(halved_state.bytes()) <= estimate_state_bytes(halved, at_65));
        QVERIFY(double(halved_state.bytes()) > 0.9 * estimate_state_bytes(halved, at_64));
    }

    // --- size arithmetic and bounds ------------------------------------------------------

    void widths_are_computed_in_64_bits() {
        ModelConfig config;
        config.n_heads = 256;
        config.value_dimensions = 16777217;
        QCOMPARE(config.d_model(), int64_t(256) * 16777217);
        config.kind = ModelKind::Decoder;
        QCOMPARE(config.effective_cross_model_dimensions(), int64_t(256) * 16777217);
        const QString message = error_of([&] { validate(config); });
        QVERIFY2(message.contains("'value_dimensions'"), qPrintable(message));
    }

    // 256 heads of 16,777,217 value dimensions wrapped to d_model 256 in int and passed every check.
    void a_weights_file_whose_widths_wrap_in_int_is_refused() {
        const QString file = path("wraps.safetensors");
        write_claim(file, R"({"attention_type": "linear", "n_layers": 1, "n_heads": 256, "query_dimensions": 1,
                             "value_dimensions": 16777217, "feed_forward_dimensions": 1})");
        const QString message = error_of([&] { load_model(file.toStdString()); });
        QVERIFY2(message.contains("value_dimensions"), qPrintable(message));
        QVERIFY(one_line(message));
    }

    void absurd_configs_are_refused_data() {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("clue");
        QTest::newRow("5,000 cross heads") << R"({"kind": "decoder", "cross_n_heads": 5000})"
                                           << "'cross_n_heads'";
        QTest::newRow("query dimensions 1e6") << R"({"query_dimensions": 1000000})"
                                              << "'query_dimensions'";
        QTest::newRow("favor with 2e7 features")
            << R"({"attention_type": "linear", "feature_map": "favor", "feature_map_dimensions": 20000000})"
            << "'feature_map_dimensions'";
        QTest::newRow("1e8 layers") << R"({"n_layers": 100000000})"
                                    << "'n_layers'";
        QTest::newRow("2e9 layers") << R"({"n_layers": 2000000000})"
                                    << "'n_layers'";
        QTest::newRow("65,537 full layers") << R"({"attention_type": "full", "n_layers": 65537})"
                                            << "'n_layers'";
        QTest::newRow("favor, 10,000 query dimensions")
            << R"({"attention_type": "linear", "feature_map": "favor", "query_dimensions": 10000})"
            << "'query_dimensions'";
        QTest::newRow("favor, 2,000 query dimensions (a 2,000 x 2,000 QR per layer)")
            << R"({"attention_type": "linear", "feature_map": "favor", "query_dimensions": 2000})"
            << "'query_dimensions'";
        QTest::newRow("grf cross attention, 2,000 query dimensions")
            << R"({"kind": "decoder", "cross_attention_type": "linear", "feature_map": "grf",
                  "cross_query_dimensions": 2000})"
            << "'cross_query_dimensions'";
        QTest::newRow("favor, 32 QR blocks of 1,024 in each of 64 layers")
            << R"({"attention_type": "linear", "feature_map": "favor", "query_dimensions": 1024, "n_layers": 64,
                  "n_heads": 1, "feature_map_dimensions": 65536})"
            << "'feature_map_dimensions'";
        QTest::newRow("d_model past the bound") << R"({"n_heads": 1024, "value_dimensions": 1024})"
                                                << "d_model";
        QTest::newRow("feed forward 1e9") << R"({"feed_forward_dimensions": 1000000000})"
                                          << "'feed_forward_dimensions'";
    }

    void absurd_configs_are_refused() {
        QFETCH(QString, json);
        QFETCH(QString, clue);
        const QString message = error_of([&] { config_from_json(json.toStdString()); });
        QVERIFY2(message.contains(clue) && message.contains("limit"), qPrintable(message));
    }

    // Within every bound, but over the limit: the estimate refuses, naming both figures.
    void a_model_over_the_limit_is_refused_before_it_is_built() {
        LimitScope limit("64M");
        ModelConfig config = small_config();
        config.n_layers = 64;
        config.n_heads = 8;
        config.query_dimensions = config.value_dimensions = 64;
        config.feed_forward_dimensions = 2048;
        const QString message = error_of([&] { Model::create_random(config, 1); });
        QVERIFY2(message.startsWith("refused: this model needs about ") &&
                     message.contains("over the memory limit of 67.1 MB (STEPSCOPE_MAX_MEMORY)"),
                 qPrintable(message));
        ui::SessionSpec spec = ui::testing::small_spec();
        spec.config = config;
        QCOMPARE(error_of([&] { ui::build_model(spec); }), message);
    }

    // The explorer's form holds a config to the same limit, STEPSCOPE_MAX_MEMORY included.
    void the_form_refuses_a_model_over_the_limit() {
        LimitScope limit("1M");
        ui::ModelPanel panel;
        ModelConfig seed = small_config("linear");
        seed.n_layers = 8;
        seed.n_heads = 12;
        seed.query_dimensions = seed.value_dimensions = 32;
        seed.feed_forward_dimensions = 1536;
        panel.setConfig(seed);
        QVERIFY(!panel.config().has_value());
        QVERIFY2(panel.errorFor({}).startsWith("refused: this model needs about ") &&
                     panel.errorFor({}).contains("1.0 MB (STEPSCOPE_MAX_MEMORY)"),
                 qPrintable(panel.errorFor({})));
    }

    // --- weights files ---------------------------------------------------------------------

    // 219 bytes claiming 1,000 layers: refused at the first missing tensor, not after listing them all.
    void a_small_file_claiming_many_layers_fails_at_once() {
        const QString file = path("claims.safetensors");
        write_claim(file, R"({"attention_type": "linear", "n_layers": 1000})");
        QVERIFY(QFileInfo(file).size() < 400);
        QElapsedTimer timer;
        timer.start();
        const QString message = error_of([&] { load_model(file.toStdString()); });
        QVERIFY2(message.contains("missing tensor 'layers.0."), qPrintable(message));
        QVERIFY2(timer.elapsed() < 2000, qPrintable(QString::number(timer.elapsed())));
    }

    // 219 bytes claiming 2e9 layers built the whole expected-tensor list first: 5 GB and 30 s.
    void a_small_file_claiming_2e9_layers_is_refused_by_its_bound() {
        const QString file = path("claims_2e9.safetensors");
        write_claim(file, R"({"attention_type": "linear", "n_layers": 2000000000})");
        const QString message = error_of([&] { load_model(file.toStdString()); });
        QVERIFY2(message.contains("'n_layers'") && message.contains("limit of 1024"), qPrintable(message));
    }

    void the_config_in_a_weights_file_is_bounded() {
        const QString big = path("big_config.safetensors");
        write_claim(big, "{\"n_layers\": 2, \"pad\": \"" + std::string(200000, 'x') + "\"}");
        const QString too_long = error_of([&] { load_model(big.toStdString()); });
        QVERIFY2(too_long.contains("more than the 65536"), qPrintable(too_long));
        const QString deep = path("deep_config.safetensors");
        write_claim(deep, "{\"n_layers\": " + std::string(10000, '[') + std::string(10000, ']') + "}");
        const QString nested = error_of([&] { load_model(deep.toStdString()); });
        QVERIFY2(nested.contains("nests"), qPrintable(nested));
    }

    // --- only regular files, of a bounded size ---------------------------------------------------

    void devices_pipes_and_folders_are_refused() {
        const QString fifo = path("fifo");
        QCOMPARE(::mkfifo(fifo.toLocal8Bit().constData(), 0600), 0);
        const QString device = error_of([] { read_safetensors("/dev/zero"); });
        QVERIFY2(device.contains("device") && one_line(device), qPrintable(device));
        const QString pipe = error_of([&] { read_safetensors(fifo.toStdString()); });
        QVERIFY2(pipe.contains("pipe"), qPrintable(pipe));
        const QString folder = error_of([&] { load_model(dir_.path().toStdString()); });
        QVERIFY2(folder.contains("folder"), qPrintable(folder));
        const QString session = error_of([&] { ui::session_from_file(fifo); });
        QVERIFY2(session.contains("pipe"), qPrintable(session));
        const QString zero_session = error_of([&] { ui::session_from_file("/dev/zero"); });
        QVERIFY2(zero_session.contains("device"), qPrintable(zero_session));
        ui::SessionSpec spec = ui::testing::small_spec();
        spec.input.kind = ui::InputKind::File;
        spec.input.path = fifo + ".csv";
        QCOMPARE(::mkfifo(spec.input.path.toLocal8Bit().constData(), 0600), 0);
        const QString csv = error_of([&] { ui::InputSource source(spec, spec.config); });
        QVERIFY2(csv.contains("pipe"), qPrintable(csv));
    }

    void the_commands_refuse_devices_and_pipes_in_one_line() {
        const QString fifo = path("cli_fifo");
        QCOMPARE(::mkfifo(fifo.toLocal8Bit().constData(), 0600), 0);
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"replay", "--model", "/dev/zero", "--inputs", fifo, "--output",
                                            path("o.safetensors")}),
                                   "device");
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"export", "--config", fifo, "--steps", "1", "--out", path("fifo_out")}),
                                   "pipe");
    }

    void a_file_past_the_limit_is_not_read() {
        const QString file = path("model.safetensors");
        save_model(file.toStdString(), *Model::create_random(small_config(), 1));
        LimitScope limit("8K");
        const QString message = error_of([&] { read_safetensors(file.toStdString()); });
        QVERIFY2(message.contains("more than the") && message.contains("memory limit"), qPrintable(message));
    }

    // --- replay -----------------------------------------------------------------------------------

    // 1e8 steps of zero width: a tiny file that made replay allocate T x N x d_model.
    void replay_checks_the_input_width_before_allocating() {
        const QString model = path("replay_model.safetensors");
        save_model(model.toStdString(), *Model::create_random(small_config(), 1));
        const QString inputs = path("wide_t.safetensors");
        write_file(inputs, file_with_header(R"({"x":{"dtype":"F32","shape":[100000000,1,0],"data_offsets":[0,0]}})"));
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"replay", "--model", model, "--inputs", inputs, "--output", path("o")}),
                                   "wide_t.safetensors: tensor 'x' is 0 wide");
    }

    void replay_refuses_a_run_over_the_limit_naming_the_file() {
        const ModelConfig config = small_config("full");
        const QString model = path("replay_full.safetensors");
        save_model(model.toStdString(), *Model::create_random(config, 1));
        const QString inputs = path("long.safetensors");
        SafetensorsFile io;
        io.tensors["x"] = Tensor::f32_zeros({2000, 3, config.d_model()});
        write_safetensors(inputs.toStdString(), io);
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"replay", "--model", model, "--inputs", inputs, "--output",
                                            path("o.safetensors")},
                                           {{kLimitVariable, "3M"}}),
                                   "long.safetensors: refused: replaying 2000 steps of batch 3 needs about");
    }

    // --- bench, export and the explorer's runs ------------------------------------------------------

    void bench_is_guarded() {
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"bench", "--attention", "full", "--batch", "4096", "--steps", "1048576",
                                            "--layers", "64", "--heads", "64", "--head-dimensions", "512"}),
                                   "refused: this benchmark needs about");
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"bench", "--steps", "1"}, {{kLimitVariable, "1M"}}), "1.0 MB");
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"bench", "--steps", "1"}, {{kLimitVariable, "many"}}),
                                   "STEPSCOPE_MAX_MEMORY is 'many'");
    }

    // The error is the only line, with XDG_RUNTIME_DIR unset as on a bare server.
    void export_errors_are_one_line_without_a_runtime_dir() {
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"export", "--config", path("absent.json"), "--steps", "1", "--out",
                                            path("xdg_out")},
                                           {}, {"XDG_RUNTIME_DIR"}),
                                   "absent.json");
        // The seed example: 8 layers, 12 heads of 32/32, 1536 feed-forward dimensions.
        ModelConfig seed = small_config("linear");
        seed.n_layers = 8;
        seed.n_heads = 12;
        seed.query_dimensions = seed.value_dimensions = 32;
        seed.feed_forward_dimensions = 1536;
        const QString config = path("seed.json");
        write_file(config, QByteArray::fromStdString(config_to_json(seed)));
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"export", "--config", config, "--steps", "100", "--out", path("limit_out")},
                                           {{kLimitVariable, "20M"}}, {"XDG_RUNTIME_DIR"}),
                                   "refused: exporting 100 steps needs about");
    }

    // The cache doubles and a checkpoint copies it: the step that would pass the limit is refused.
    void a_growing_run_stops_at_the_limit_with_the_run_intact() {
        ui::SessionSpec spec = ui::testing::small_spec("full");
        spec.batch = 64;
        const auto model = ui::build_model(spec);
        RunShape start;
        start.batch = spec.batch;
        start.steps = 1;
        start.state_copies = 2;
        const double at_start = estimate_model_bytes(spec.config) + estimate_run_bytes(spec.config, start);
        LimitScope limit(QByteArray::number(qint64(at_start * 4)));
        ui::Session session(model, spec);
        QString message;
        int64_t stepped = 0;
        for (int t = 0; t < 100000 && message.isEmpty(); ++t) {
            message = error_of([&] { session.advance(); });
            if (message.isEmpty()) ++stepped;
        }
        QVERIFY2(message.startsWith("refused: step ") && message.contains("STEPSCOPE_MAX_MEMORY") && one_line(message),
                 qPrintable(message));
        QCOMPARE(session.current_step(), stepped);
        QVERIFY(stepped > 16);
        QVERIFY(double(session.state().bytes()) < at_start * 4);
    }

    // --- CSV, snapshots, decoder memories --------------------------------------------------------------

    void a_csv_value_that_overflows_float32_is_refused() {
        ui::SessionSpec spec = ui::testing::small_spec();
        spec.input.kind = ui::InputKind::File;
        spec.input.path = path("overflow.csv");
        const int width = int(spec.config.d_model());
        QByteArray rows;
        for (int r = 0; r < 2; ++r) {
            for (int c = 0; c < width; ++c) rows += (c ? "," : "") + QByteArray(r == 1 && c == 2 ? "1e39" : "0.5");
            rows += "\n";
        }
        write_file(spec.input.path, rows);
        const QString message = error_of([&] { ui::InputSource source(spec, spec.config); });
        QVERIFY2(message.contains("line 2, column 3") && message.contains("1e39"), qPrintable(message));
    }

    void snapshot_metadata_is_range_checked_data() {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("value");
        QTest::newRow("step = INT64_MAX") << "step"
                                          << "9223372036854775807";
        QTest::newRow("step past 2^53") << "step"
                                        << "9007199254740993";
        QTest::newRow("batch = 2^32 + 2") << "batch"
                                          << "4294967298";
        QTest::newRow("a sign") << "step"
                                << "+5";
        QTest::newRow("seed past int64") << "sequence_seed"
                                         << "18446744073709551615";
    }

    void snapshot_metadata_is_range_checked() {
        QFETCH(QString, key);
        QFETCH(QString, value);
        const auto model = Model::create_random(small_config("linear"), 1);
        State state = model->new_state(3);
        RowMatrix x = RowMatrix::Random(2, model->config().d_model()), y;
        model->step(x, state, y);
        SafetensorsFile file = make_snapshot(*model, state);
        file.metadata[key.toStdString()] = value.toStdString();
        const QString message = error_of([&] { restore_snapshot(*model, file); });
        QVERIFY2(message.contains("'" + key + "'"), qPrintable(message));
    }

    // Refused when the run opens, before a plot is written.
    void an_export_from_a_bad_snapshot_writes_nothing() {
        ui::SessionSpec spec = ui::testing::small_spec("linear");
        const auto model = ui::build_model(spec);
        State state = model->new_state(spec.sequence_seed);
        RowMatrix x = RowMatrix::Random(spec.batch, model->config().d_model()), y;
        model->step(x, state, y);
        SafetensorsFile snapshot = make_snapshot(*model, state);
        snapshot.metadata["step"] = "9223372036854775807";
        spec.snapshot_path = path("overflow_snapshot.safetensors");
        write_safetensors(spec.snapshot_path.toStdString(), snapshot);
        const QString session = path("overflow_session.json");
        ui::write_session_file(session, spec);
        const QString out = path("overflow_out");
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"export", "--session", session, "--steps", "2", "--out", out}), "'step'");
        QVERIFY(QDir(out).entryList(QDir::Files).isEmpty());
    }

    // A NaN in a masked memory position said "the memory changed within a sequence".
    void a_non_finite_memory_is_refused_as_such() {
        const auto model = Model::create_random(small_decoder("full"), 1);
        Memory memory;
        memory.batch = 2;
        memory.length = 4;
        memory.values = RowMatrix::Random(8, 6);
        memory.lengths = {2, 4};
        memory.values(3, 1) = std::numeric_limits<float>::quiet_NaN();  // sequence 0, element 3: masked
        State state = model->new_state();
        RowMatrix x = RowMatrix::Random(2, model->config().d_model()), y;
        for (int t = 0; t < 2; ++t) {
            const QString message = error_of([&] { model->step(x, memory, state, y); });
            QVERIFY2(message.contains("not finite") && message.contains("sequence 0, element 3"), qPrintable(message));
            QVERIFY(state.empty());
        }
    }

    // The cache counts steps in int and doubles its room: a sequence stops before either overflows.
    void a_full_attention_sequence_stops_before_its_cache_overflows() {
        const auto model = Model::create_random(small_config("full"), 1);
        State state = model->new_state();
        state.batch = 2;
        state.step = KeyValueCache::kMaxLength;
        const RowMatrix x = RowMatrix::Random(2, model->config().d_model());
        const QString message = error_of([&] { model->check_step(x, state); });
        QVERIFY2(message.contains("at most"), qPrintable(message));
    }

    // --- file-supplied text in messages ------------------------------------------------------------------

    void file_text_is_quoted_escaped_and_truncated() {
        QCOMPARE(QString::fromStdString(quote_text("a\nb\x1b[31mc")), QString("'a\\nb\\x1b[31mc'"));
        const std::string long_text(1000, 'x');
        QCOMPARE(quote_text(long_text).size(), size_t(80 + 5));
        // A cut never splits a UTF-8 character.
        const std::string accents = std::string(79, 'a') + "\xc3\xa9\xc3\xa9";
        QCOMPARE(quote_text(accents), "'" + std::string(79, 'a') + "...'");
    }

    void damaged_files_do_not_echo_raw_text() {
        const QString named = path("named.safetensors");
        write_file(named, file_with_header("{\"evil\\nname\\u001b[2J" + std::string(500, 'z') +
                                           "\": {\"dtype\": \"Q8\", \"shape\": [1], \"data_offsets\": [0, 0]}}"));
        const QString name_message = error_of([&] { read_safetensors(named.toStdString()); });
        QVERIFY2(one_line(name_message) && !name_message.contains('\x1b') && name_message.contains("evil\\nname\\x1b"),
                 qPrintable(name_message));
        QVERIFY2(name_message.size() < 400, qPrintable(name_message));
        const QString token = path("token.safetensors");
        write_file(token, file_with_header("{\"a\": " + std::string(200000, '7') + "x}"));
        const QString token_message = error_of([&] { read_safetensors(token.toStdString()); });
        QVERIFY2(one_line(token_message) && token_message.size() < 600, qPrintable(token_message.left(600)));
        const QString config_message =
            error_of([] { config_from_json("{\"n_layers\": 1" + std::string(60000, ' ') + "@"); });
        QVERIFY2(config_message.size() < 600, qPrintable(config_message.left(600)));
        const QString key_message = error_of([] { config_from_json("{\"bad\\nkey\\u001b\": 1}"); });
        QVERIFY2(one_line(key_message) && !key_message.contains('\x1b'), qPrintable(key_message));
        const QString session = path("escape_session.json");
        write_file(session, "{\"format\": \"stepscope-session\", \"config\": {}, \"device\": \"gpu\\n\\u001b[2J" +
                                QByteArray(300, 'q') + "\"}");
        const QString session_message = error_of([&] { ui::session_from_file(session); });
        QVERIFY2(one_line(session_message) && session_message.contains("'device'") && session_message.size() < 400 &&
                     !session_message.contains('\x1b'),
                 qPrintable(session_message));
    }
};

QTEST_MAIN(HostileInputTest)
#include "test_ui_hostile_input.moc"
