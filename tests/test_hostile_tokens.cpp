// Hostile token models, snapshots and command lines (issue 22): refused in one line, within the
// memory limit, in seconds; untrusted text quoted and cut; nothing a run holds is lost.
#include <QtTest>

#include <QElapsedTimer>
#include <QTemporaryDir>

#include <cmath>
#include <filesystem>
#include <functional>

#include <nlohmann/json.hpp>

#include "cli_test_support.h"
#include "stepscope/config.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"
#include "stepscope/model.h"
#include "stepscope/safetensors.h"
#include "stepscope/snapshot.h"
#include "stepscope/token_model.h"
#include "stepscope/token_tasks.h"
#include "test_support.h"

using namespace stepscope;
using stepscope::testing::CliResult;
using stepscope::testing::demo_path;
using stepscope::testing::error_of;
using stepscope::testing::LimitScope;
using stepscope::testing::run_stepscope;

namespace {

using Measured = stepscope::testing::MeasuredRun;

// The binary run with `limit` as STEPSCOPE_MAX_MEMORY, arguments as bytes (a path that is not UTF-8 reaches
// it as it is).
Measured measure(const QList<QByteArray>& arguments, const QByteArray& limit, const QString& scratch) {
    LimitScope scope(limit);
    return stepscope::testing::run_measured(arguments, scratch);
}

// A token model around a random encoder of `config`: V one-character tokens and a text task.
SafetensorsFile token_file(const ModelConfig& config, int vocabulary) {
    SafetensorsFile file;
    file.tensors = Model::create_random(config, 3)->tensors();
    const int64_t width = config.d_model();
    std::vector<float> rows(size_t(vocabulary * width));
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = float(std::sin(double(i)));
    file.tensors["embedding.weight"] = Tensor::f32({vocabulary, width}, rows);
    file.tensors["readout.weight"] = Tensor::f32({vocabulary, width}, rows);
    nlohmann::json tokens = nlohmann::json::array();
    for (int v = 0; v < vocabulary; ++v) tokens.push_back(std::string(1, char('a' + v)));
    file.metadata["config"] = config_to_json(config);
    file.metadata["vocabulary"] = tokens.dump();
    file.metadata["task"] = R"({"name": "text", "metric": "accuracy"})";
    return file;
}

ModelConfig encoder(const std::string& attention, int heads, int width, int layers) {
    ModelConfig config;
    config.attention_type = attention;
    config.n_layers = layers;
    config.n_heads = heads;
    config.query_dimensions = config.value_dimensions = width;
    config.feed_forward_dimensions = 2 * heads * width;
    return config;
}

SafetensorsFile with_task(SafetensorsFile file, const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json task = nlohmann::json::parse(file.metadata.at("task"));
    change(task);
    file.metadata["task"] = task.dump();
    return file;
}

// One line, short, without the terminal's escape character: untrusted text was quoted and cut.
bool clean_line(const QString& message) {
    return !message.trimmed().contains('\n') && message.size() < 400 && !message.contains(QChar(0x1b));
}

}  // namespace

class HostileTokensTest : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    SafetensorsFile recall_;
    QString path(const QString& name) const { return dir_.filePath(name); }

private slots:
    void initTestCase() { recall_ = read_safetensors(demo_path("recall_linear.safetensors")); }

    // --- 1: eval within the memory limit ------------------------------------------------------

    // 54,000 one-step sequences on a d_model-96 model stepped as one batch took 2.4 GB under a 1 GB
    // limit; in slices the run stays far under it, with the same scores.
    void a_large_evaluation_set_is_stepped_within_the_limit() {
        SafetensorsFile file = token_file(encoder("linear", 6, 16, 2), 8);
        file.tensors["evaluation.0.tokens"] = Tensor::i64({54000, 1, 1}, std::vector<int64_t>(54000, 0));
        file.tensors["evaluation.0.targets"] = Tensor::i64({54000, 1}, std::vector<int64_t>(54000, 1));
        const QString model = path("eval_big.safetensors");
        write_safetensors(model.toStdString(), file);
        const Measured run = measure({"eval", "--model", model.toLocal8Bit()}, "1G", dir_.path());
        QVERIFY2(run.exit_code == 0, qPrintable(run.stderr_text));
        QVERIFY2(run.peak_bytes < 1024.0 * 1024 * 1024,
                 qPrintable(QString("peak %1 MB under a 1 GB limit").arg(run.peak_bytes / 1e6)));
        // The slices score as the whole batch would: every sequence is the same, so all agree.
        const Evaluation e = evaluate_stored(*TokenModel::from_file(file));
        QCOMPARE(e.scored, int64_t(54000));
        QVERIFY(e.value == 0.0 || e.value == 1.0);
    }

    void an_evaluation_set_over_the_limit_is_refused_before_stepping() {
        SafetensorsFile file = token_file(encoder("full", 2, 16, 2), 8);
        file.tensors["evaluation.0.tokens"] = Tensor::i64({2, 4000, 1}, std::vector<int64_t>(8000, 0));
        file.tensors["evaluation.0.targets"] = Tensor::i64({2, 4000}, std::vector<int64_t>(8000, 1));
        const auto model = TokenModel::from_file(file);
        const double model_bytes = estimate_model_bytes(model->transformer().config());
        LimitScope limit(QByteArray::number(qint64(model_bytes + 64 * 1024)));
        QElapsedTimer timer;
        timer.start();
        const QString message = error_of([&] { evaluate_stored(*model); });
        QVERIFY2(message.startsWith("refused: evaluation group 0") && message.contains("STEPSCOPE_MAX_MEMORY"),
                 qPrintable(message));
        QVERIFY(timer.elapsed() < 5000);
    }

    // Checked before any step: a bad id at the end of a long group costs no stepping.
    void an_evaluation_set_is_checked_whole_first() {
        SafetensorsFile file = recall_;
        file.tensors["evaluation.4.tokens"].integers.back() = 999;
        int steps = 0;
        const QString message =
            error_of([&] { evaluate_stored(*TokenModel::from_file(file), [&](int64_t, int64_t) { ++steps; }); });
        QVERIFY2(message.contains("evaluation group 4") && message.contains("outside the vocabulary"),
                 qPrintable(message));
        QCOMPARE(steps, 0);
    }

    // --- 1, 2: recall layouts -------------------------------------------------------------------

    void recall_queries_are_bounded() {
        for (const double queries : {1e7, 1e12}) {
            const SafetensorsFile file =
                with_task(recall_, [&](nlohmann::json& t) { t["queries"] = int64_t(queries); });
            const auto model = TokenModel::from_file(file);
            QElapsedTimer timer;
            timer.start();
            const QString message = error_of([&] { draw_recall_instance(*model, 8, 1); });
            QVERIFY2(message.contains("queries"), qPrintable(message));
            QVERIFY(timer.elapsed() < 2000);
        }
        // The largest allowed layout is counted before it is drawn.
        const auto model =
            TokenModel::from_file(with_task(recall_, [](nlohmann::json& t) { t["queries"] = kMaxRecallQueries; }));
        QVERIFY(estimate_recall_instance_bytes(*model, 8) >= double(kMaxRecallQueries) * kRecallStepBytes);
    }

    // keys + values wrapped negative, passed the fit check, and a 1 GB key vector was shuffled for 27 s.
    void recall_counts_that_overflow_are_refused_at_once() {
        const auto file = with_task(recall_, [](nlohmann::json& t) {
            t["keys"] = int64_t(1) << 27;
            t["values"] = (int64_t(1) << 62) + ((int64_t(1) << 62) - (int64_t(1) << 27));
        });
        const auto model = TokenModel::from_file(file);
        QElapsedTimer timer;
        timer.start();
        const QString message = error_of([&] { draw_recall_instance(*model, 8, 1); });
        QVERIFY2(message.contains("do not fit the vocabulary"), qPrintable(message));
        QVERIFY(timer.elapsed() < 2000);
        const auto negative = with_task(recall_, [](nlohmann::json& t) { t["null"] = -1; });
        QVERIFY(error_of([&] { draw_recall_instance(*TokenModel::from_file(negative), 8, 1); }).contains("null"));
    }

    // --- 6: long runs -----------------------------------------------------------------------------

    // 3,000,000 steps of softmax attention: about 6e14 multiply-adds, hours of stepping.
    void an_absurd_amount_of_stepping_is_refused_before_it_starts() {
        SafetensorsFile file = token_file(encoder("full", 2, 16, 2), 8);
        const int64_t steps = 3000000;
        file.tensors["evaluation.0.tokens"] = Tensor::i64({1, steps, 1}, std::vector<int64_t>(size_t(steps), 0));
        file.tensors["evaluation.0.targets"] = Tensor::i64({1, steps}, std::vector<int64_t>(size_t(steps), 1));
        const auto model = TokenModel::from_file(file);
        QElapsedTimer timer;
        timer.start();
        const QString message = error_of([&] { evaluate_stored(*model); });
        QVERIFY2(message.startsWith("refused: "), qPrintable(message));
        QVERIFY(timer.elapsed() < 5000);
        RunShape run;
        run.steps = steps;
        QVERIFY(estimate_step_work(model->transformer().config(), run) > kMaxStepWork);
        QVERIFY(error_of([] { require_work(2 * kMaxStepWork, "this"); }).contains("multiply-adds"));
    }

    // Every step or block of steps is reported, so a command can show progress on a long run.
    void evaluation_and_generation_report_progress() {
        const auto model = TokenModel::from_file(recall_);
        int64_t last = 0, total = 0;
        evaluate_stored(*model, [&](int64_t done, int64_t of) {
            QVERIFY(done > last);
            last = done;
            total = of;
        });
        QCOMPARE(last, total);
        QCOMPARE(total, int64_t(100 * (20 + 24 + 32 + 48 + 80)));
        const auto text = TokenModel::load(demo_path("text_linear.safetensors"));
        int calls = 0;
        int64_t generated = 0, steps = 0;
        generate(*text, text->tokenize("This"), {10, 0, 0}, [&](int64_t done, int64_t of) {
            ++calls;
            generated = done;
            steps = of;
        });
        // The prompt's three known steps run as one block (one report), then each generated token.
        QCOMPARE(calls, 1 + 10);
        QCOMPARE(generated, steps);
        QCOMPARE(steps, int64_t(3 + 10));
    }

    // --- 3: untrusted text ------------------------------------------------------------------------

    void untrusted_token_text_is_quoted_and_cut() {
        const std::string hostile = "\x1b[31m" + std::string(60122, 'x');
        SafetensorsFile file = recall_;
        nlohmann::json vocabulary = nlohmann::json::parse(file.metadata.at("vocabulary"));
        vocabulary[0] = hostile;
        vocabulary[1] = hostile;
        file.metadata["vocabulary"] = vocabulary.dump();
        const QString duplicate = error_of([&] { TokenModel::from_file(file); });
        QVERIFY2(duplicate.contains("repeats the token") && clean_line(duplicate), qPrintable(duplicate.left(300)));
        const auto model = TokenModel::from_file(recall_);
        const QString unknown = error_of([&] { model->tokenize("k3+" + hostile); });
        QVERIFY2(unknown.contains("not in the model's vocabulary") && clean_line(unknown),
                 qPrintable(unknown.left(300)));

        const QString text_model = QString::fromStdString(demo_path("text_linear.safetensors"));
        const CliResult steps = run_stepscope(
            {"generate", "--model", text_model, "--prompt", "a", "--steps", QString::fromStdString(hostile)});
        QCOMPARE(steps.exit_code, 2);
        QVERIFY2(clean_line(steps.stderr_text), qPrintable(steps.stderr_text.left(300)));
        const CliResult prompt =
            run_stepscope({"generate", "--model", QString::fromStdString(demo_path("recall_linear.safetensors")),
                           "--prompt", QString::fromStdString(hostile), "--steps", "1"});
        QCOMPARE(prompt.exit_code, 2);
        QVERIFY2(clean_line(prompt.stderr_text), qPrintable(prompt.stderr_text.left(300)));
        const CliResult option = run_stepscope({"eval", QString::fromStdString("--" + hostile)});
        QCOMPARE(option.exit_code, 2);
        QVERIFY2(clean_line(option.stderr_text), qPrintable(option.stderr_text.left(300)));
    }

    // --- 9, 10, 13: numbers, JSON, messages -----------------------------------------------------

    // 1e-300 became a float 0 and divided the logits by it.
    void a_temperature_too_small_for_a_float_is_refused() {
        const QString text_model = QString::fromStdString(demo_path("text_linear.safetensors"));
        STEPSCOPE_VERIFY_USAGE_ERROR("generate", (QStringList{"generate", "--model", text_model, "--prompt", "a",
                                                              "--steps", "3", "--temperature", "1e-300"}));
        const auto model = TokenModel::from_file(read_safetensors(demo_path("text_linear.safetensors")));
        QVERIFY(error_of([&] { generate(*model, model->tokenize("a"), {3, 1e-300, 0}); }).contains("temperature"));
        // A caller that passes one anyway gets the greedy choice, not a NaN draw.
        RowMatrix logits(1, 4);
        logits << 0.5f, 3.0f, -1.0f, 2.0f;
        QCOMPARE(choose_token(logits, 1e-300, 0.99), int64_t(1));
        const CliResult fine = run_stepscope({"generate", "--model", text_model, "--prompt", "a", "--steps", "3",
                                              "--temperature", "1e-6", "--seed", "2"});
        QVERIFY2(fine.exit_code == 0, qPrintable(fine.stderr_text));
    }

    // "[json.exception.type_error.302] type must be string, but is number" reached the user.
    void task_fields_of_the_wrong_type_are_named() {
        const auto metric = with_task(recall_, [](nlohmann::json& t) { t["metric"] = 7; });
        const QString message = error_of([&] { evaluate_stored(*TokenModel::from_file(metric)); });
        QVERIFY2(message.contains("metric must be a string") && !message.contains("json.exception"),
                 qPrintable(message));
        const auto groups = with_task(recall_, [](nlohmann::json& t) { t["groups"] = 5; });
        QCOMPARE(evaluate_stored(*TokenModel::from_file(groups)).groups.front().name, std::string("0"));
        const QString model = path("metric.safetensors");
        write_safetensors(model.toStdString(), metric);
        const CliResult run = run_stepscope({"eval", "--model", model});
        QCOMPARE(run.exit_code, 2);
        QVERIFY2(!run.stderr_text.contains("json.exception") && clean_line(run.stderr_text),
                 qPrintable(run.stderr_text));
    }

    // The path is printed with U+FFFD for its bad byte, not refused.
    void eval_json_prints_a_path_that_is_not_utf8() {
        const QByteArray model = QFile::encodeName(dir_.path()) + "/model-\xff.safetensors";
        std::filesystem::copy_file(demo_path("recall_softmax.safetensors"), model.toStdString());
        const Measured run = measure({"eval", "--model", model, "--json"}, "4G", dir_.path());
        QVERIFY2(run.exit_code == 0, qPrintable(run.stderr_text));
        const nlohmann::json json = nlohmann::json::parse(run.stdout_text.toStdString());
        QVERIFY(json["value"].get<double>() > 0.9);
        QVERIFY(json["model"].get<std::string>().find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD
        std::filesystem::remove(model.toStdString());  // QTemporaryDir cannot name it
    }

    void a_bias_of_the_wrong_dtype_says_so() {
        SafetensorsFile file = recall_;
        file.tensors["readout.bias"] = Tensor::i64({257}, std::vector<int64_t>(257, 0));
        const QString message = error_of([&] { TokenModel::from_file(file); });
        QVERIFY2(message.contains("I64") && message.contains("F32"), qPrintable(message));
    }

    // --- 4: a requested config against the weights file -------------------------------------------

    void a_file_of_another_architecture_is_refused_and_precisions_apply() {
        const ModelConfig file_config = TokenModel::from_file(recall_)->transformer().config();
        ModelConfig asked = file_config;
        asked.n_layers = 3;
        const QString message = error_of([&] { TokenModel::from_file(recall_, &asked); });
        QVERIFY2(message.contains("differs") && message.contains("n_layers is 3, the file's 2"), qPrintable(message));
        asked = file_config;
        asked.attention_type = "full";
        QVERIFY(error_of([&] { TokenModel::from_file(recall_, &asked); }).contains("attention_type"));
        asked = file_config;
        asked.precision = "q8";
        asked.cache_precision = "bf16";
        const auto held = TokenModel::from_file(recall_, &asked);
        QCOMPARE(held->transformer().config().precision, std::string("q8"));
        QCOMPARE(held->transformer().config().cache_precision, std::string("bf16"));
        asked.dropout = 0.3;  // inference ignores dropout
        QVERIFY(architecture_difference(asked, file_config).empty());
        const std::string golden = std::string(STEPSCOPE_GOLDEN_DIR) + "/enc_linear/model.safetensors";
        ModelConfig other = load_model(golden)->config();
        other.feed_forward_dimensions += 1;
        QVERIFY(error_of([&] { load_model(golden, other); }).contains("feed_forward_dimensions"));
        other.feed_forward_dimensions -= 1;
        other.precision = "bf16";
        QCOMPARE(load_model(golden, other)->config().precision, std::string("bf16"));
    }

    // --- 14: inconsistent snapshots -----------------------------------------------------------------

    void inconsistent_snapshots_are_refused() {
        const auto model = Model::create_random(encoder("full", 2, 8, 2), 5);
        State state = model->new_state(3);
        RowMatrix x = RowMatrix::Constant(2, 16, 0.5f), y;
        for (int t = 0; t < 10; ++t) model->step(x, state, y);
        const SafetensorsFile good = make_snapshot(*model, state, {});
        QCOMPARE(restore_snapshot(*model, good).step, int64_t(10));
        auto refused = [&](const std::function<void(SafetensorsFile&)>& change, const QString& clue) {
            SafetensorsFile file = good;
            change(file);
            const QString message = error_of([&] { restore_snapshot(*model, file); });
            QVERIFY2(message.contains(clue) && clean_line(message), qPrintable(clue + ": " + message));
        };
        refused([](SafetensorsFile& f) { f.metadata["step"] = "3"; }, "holds 10 steps");
        refused(
            [](SafetensorsFile& f) {
                for (const char* part : {"state.0.0", "state.0.1"}) {
                    Tensor& t = f.tensors[part];
                    t.shape[2] = 0;
                    t.values.clear();
                }
            },
            "holds 0 steps");
        refused([](SafetensorsFile& f) { f.tensors["state.1.0"].values[5] = std::nanf(""); }, "not finite");
        // Finite, but a key of 2.5e38 overflows the next step's scores to NaN (found by fuzz_snapshot).
        refused([](SafetensorsFile& f) { f.tensors["state.1.0"].values[5] = -2.47e38f; }, "would overflow");
        refused(
            [](SafetensorsFile& f) {
                f.tensors["state.7.starts"] = Tensor::i64({2, 2}, {0, 0, 0, 0});
            },
            "state.7.starts");
    }
};

QTEST_GUILESS_MAIN(HostileTokensTest)
#include "test_hostile_tokens.moc"
