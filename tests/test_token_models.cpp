// Token models: the shipped demos evaluate in C++ to what PyTorch measured, recall shows the linear-attention
// cliff, generation is deterministic, and hostile token heads are refused with a message naming the problem.
#include <QtTest>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include <cmath>
#include <functional>

#include "cli_test_support.h"
#include "core/parameters.h"
#include "stepscope/attention_kind.h"
#include "stepscope/config.h"
#include "stepscope/error.h"
#include "stepscope/model_comparison.h"
#include "stepscope/safetensors.h"
#include "stepscope/token_model.h"
#include "stepscope/token_tasks.h"
#include "test_support.h"

using namespace stepscope;
using testing::CliResult;
using testing::run_stepscope;

namespace {

std::string demo_path(const std::string& name) { return std::string(STEPSCOPE_MODELS_DIR) + "/" + name; }

double group_value(const Evaluation& evaluation, const std::string& name) {
    for (const GroupScore& group : evaluation.groups)
        if (group.name == name) return group.value;
    throw Error("no group " + name);
}

// Runs `body` and passes when it throws an Error whose message contains `fragment`.
void expect_error(const std::function<void()>& body, const std::string& fragment) {
    try {
        body();
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find(fragment) != std::string::npos, e.what());
        return;
    }
    QFAIL(qPrintable(QString::fromStdString("no Error containing '" + fragment + "'")));
}

// Logits of `steps` (T of N sequences' tokens) run one step at a time and in blocks of `block` steps, from a
// new state each, bit for bit; both states then take one more step, whose logits must be equal too.
void compare_blocks_with_steps(const TokenModel& model, const std::vector<std::vector<TokenStep>>& steps, int block,
                               const std::string& what) {
    const long batch = long(steps.front().size());
    const long vocabulary = model.vocabulary_size();
    RowMatrix stepped(long(steps.size()) * batch, vocabulary), blocked(stepped.rows(), vocabulary), logits;
    State step_state = model.transformer().new_state(), block_state = model.transformer().new_state();
    const std::vector<TokenStep>* previous = nullptr;
    for (size_t t = 0; t < steps.size(); ++t) {
        model.step(steps[t], step_state, logits, nullptr, previous);
        stepped.middleRows(long(t) * batch, batch) = logits;
        previous = &steps[t];
    }
    std::vector<TokenStep> before;
    for (size_t t0 = 0; t0 < steps.size(); t0 += size_t(block)) {
        const std::vector<std::vector<TokenStep>> part(steps.begin() + long(t0),
                                                       steps.begin() + long(std::min(steps.size(), t0 + block)));
        model.step_block(part, block_state, logits, &before);
        blocked.middleRows(long(t0) * batch, logits.rows()) = logits;
        before = part.back();
    }
    QCOMPARE(block_state.step, step_state.step);
    QVERIFY2(blocked == stepped, (what + " block").c_str());
    RowMatrix next_step, next_block;
    model.step(steps.front(), step_state, next_step, nullptr, &steps.back());
    model.step(steps.front(), block_state, next_block, nullptr, &steps.back());
    QVERIFY2(next_block == next_step, (what + " state after the blocks").c_str());
}

// T steps of N sequences of one token each, drawn from `seed` over the vocabulary.
std::vector<std::vector<TokenStep>> random_tokens(const TokenModel& model, int steps, int batch, unsigned seed) {
    std::vector<std::vector<TokenStep>> tokens(size_t(steps), std::vector<TokenStep>(static_cast<size_t>(batch)));
    for (int t = 0; t < steps; ++t)
        for (int n = 0; n < batch; ++n)
            tokens[size_t(t)][size_t(n)] = {int64_t((seed * 2654435761u + unsigned(t * 31 + n * 7)) % 9973u) %
                                            model.vocabulary_size()};
    return tokens;
}

}  // namespace

class TokenModelsTest : public QObject {
    Q_OBJECT
    SafetensorsFile recall_file_, text_file_, positions_file_;
    QTemporaryDir dir_;

private slots:
    void initTestCase() {
        recall_file_ = read_safetensors(demo_path("recall_linear.safetensors"));
        text_file_ = read_safetensors(demo_path("text_linear.safetensors"));
        // The shipped text models have no positions: give a copy 64 learned ones.
        positions_file_ = text_file_;
        const int64_t width = positions_file_.tensors.at("embedding.weight").shape[1];
        std::vector<float> rows(size_t(64 * width));
        for (size_t i = 0; i < rows.size(); ++i) rows[i] = float(std::sin(0.37 * double(i)));
        positions_file_.tensors["positions.weight"] = Tensor::f32({64, width}, rows);
    }

    // Every kind of the registry behind the text models' head (a token shift, no positions): known tokens
    // run in blocks (eval, a prompt) give the logits of stepping, across block boundaries of every size.
    void blocks_equal_steps_for_every_kind_data() {
        QTest::addColumn<QString>("kind");
        for (const std::string& kind : self_attention_types())
            QTest::newRow(kind.c_str()) << QString::fromStdString(kind);
    }

    void blocks_equal_steps_for_every_kind() {
        QFETCH(QString, kind);
        SafetensorsFile file = text_file_;
        ModelConfig config = config_from_json(file.metadata.at("config"));
        config.attention_type = kind.toStdString();
        // The text model's transformer tensors replaced by the kind's, its gates added.
        for (auto& [name, tensor] : Model::create_random(config, 9)->tensors()) file.tensors[name] = std::move(tensor);
        file.metadata["config"] = config_to_json(config);
        const auto model = TokenModel::from_file(file);
        const auto tokens = random_tokens(*model, 75, 3, 1);
        for (const int block : {1, 7, 32, 75})
            compare_blocks_with_steps(*model, tokens, block,
                                      kind.toStdString() + " in blocks of " + std::to_string(block));
    }

    // The shipped models themselves, on the first sequences of their own evaluation sets.
    void demo_blocks_equal_steps_data() {
        QTest::addColumn<QString>("file");
        for (const char* kind : {"softmax", "linear", "gated_linear", "delta", "gated_delta"})
            QTest::newRow(qPrintable(QString("recall_%1").arg(kind))) << QString("recall_%1.safetensors").arg(kind);
        for (const char* kind : {"softmax", "linear", "delta"})
            QTest::newRow(qPrintable(QString("text_%1").arg(kind))) << QString("text_%1.safetensors").arg(kind);
    }

    void demo_blocks_equal_steps() {
        QFETCH(QString, file);
        const auto model = TokenModel::load(demo_path(file.toStdString()));
        const Tensor& stored = model->evaluation_tensors().at("0.tokens");  // (N, T, W)
        const long width = long(stored.shape[2]), length = std::min<long>(long(stored.shape[1]), 100);
        std::vector<std::vector<TokenStep>> tokens(size_t(length), std::vector<TokenStep>(4));
        for (long t = 0; t < length; ++t)
            for (long n = 0; n < 4; ++n)
                for (long s = 0; s < width; ++s)
                    tokens[size_t(t)][size_t(n)].push_back(
                        stored.integers[size_t((n * stored.shape[1] + t) * width + s)]);
        compare_blocks_with_steps(*model, tokens, model->transformer().block_steps(4), file.toStdString());
    }

    void demos_evaluate_to_their_trained_values_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("task");
        for (const char* kind : {"softmax", "linear", "gated_linear", "delta", "gated_delta"})
            QTest::newRow(kind) << QString("recall_%1.safetensors").arg(kind) << "recall";
        for (const char* kind : {"softmax", "linear", "delta"})
            QTest::newRow(kind) << QString("text_%1.safetensors").arg(kind) << "text";
    }

    void demos_evaluate_to_their_trained_values() {
        QFETCH(QString, file);
        QFETCH(QString, task);
        const auto model = TokenModel::load(demo_path(file.toStdString()));
        QCOMPARE(QString::fromStdString(model->task_name()), task);
        const Evaluation evaluation = evaluate_stored(*model);
        const double trained = std::stod(model->metadata().at("trained_value"));
        QVERIFY2(std::abs(evaluation.value - trained) <= 0.01 * std::abs(trained),
                 qPrintable(QString("C++ %1, PyTorch %2").arg(evaluation.value).arg(trained)));
        QVERIFY(evaluation.examples > 0);
    }

    // Softmax attention recalls every pair; linear attention's fixed-size state forgets as pairs grow.
    void recall_twins_show_the_linear_attention_cliff() {
        const Evaluation softmax = evaluate_stored(*TokenModel::load(demo_path("recall_softmax.safetensors")));
        const Evaluation linear = evaluate_stored(*TokenModel::load(demo_path("recall_linear.safetensors")));
        QCOMPARE(softmax.metric, std::string("accuracy"));
        for (const GroupScore& group : softmax.groups)
            QVERIFY2(group.value >= 0.95, qPrintable(QString::fromStdString(group.name)));
        QVERIFY(group_value(linear, "K=4") > group_value(linear, "K=16"));
        QVERIFY(group_value(linear, "K=16") > group_value(linear, "K=64"));
        QVERIFY(group_value(softmax, "K=64") - group_value(linear, "K=64") > 0.2);
    }

    // The ladder's kinds keep what their rows say: the delta rule beats linear attention where the pairs fit.
    void recall_ladder_orders_the_kinds() {
        const Evaluation linear = evaluate_stored(*TokenModel::load(demo_path("recall_linear.safetensors")));
        const Evaluation delta = evaluate_stored(*TokenModel::load(demo_path("recall_delta.safetensors")));
        QVERIFY(group_value(delta, "K=16") > group_value(linear, "K=16"));
    }

    // eval's state bytes: a fixed S (and Z) for the kinds that keep sums, the cache at T steps for softmax.
    void state_bytes_are_fixed_for_sums_and_grow_with_a_cache() {
        for (const char* kind : {"softmax", "linear", "gated_linear", "delta", "gated_delta"}) {
            const auto model = TokenModel::load(demo_path(std::string("recall_") + kind + ".safetensors"));
            const ModelConfig& c = model->transformer().config();
            const double heads = c.n_layers * c.n_heads, d = c.query_dimensions, m = c.value_dimensions;
            for (const GroupScore& group : evaluate_stored(*model).groups) {
                // What the kind declares it keeps: K and V a row per step, or S (F, M) and Z (F) where it normalises.
                const AttentionCapabilities& keeps = attention_capabilities(c.attention_type);
                const double expected = state_grows(keeps) ? 4 * heads * group.steps * (d + m)
                                                           : 4 * heads * d * (m + (keeps.normalizer ? 1 : 0));
                QVERIFY2(group.state_bytes == expected, qPrintable(QString("%1 %2: %3, expected %4")
                                                                       .arg(kind, QString::fromStdString(group.name))
                                                                       .arg(group.state_bytes)
                                                                       .arg(expected)));
            }
        }
    }

    void text_models_beat_a_character_frequency_baseline() {
        for (const char* kind : {"softmax", "linear", "delta"}) {
            const auto model = TokenModel::load(demo_path(std::string("text_") + kind + ".safetensors"));
            QVERIFY(model->character_vocabulary());
            QVERIFY(model->token_shift());
            QCOMPARE(model->positions(), 0);
            const Evaluation evaluation = evaluate_stored(*model);
            QCOMPARE(evaluation.metric, std::string("bits_per_character"));
            QVERIFY2(evaluation.value < 4.0, qPrintable(QString::number(evaluation.value)));
        }
    }

    // A step adds the previous step's tokens through shift.weight; without them a shifted model refuses.
    void a_token_shift_adds_the_previous_step() {
        SafetensorsFile file = text_file_;
        const auto model = TokenModel::from_file(file);
        QVERIFY(model->token_shift());
        const RowMatrix embedding = matrix_of(file.tensors.at("embedding.weight"));
        const RowMatrix shift = matrix_of(file.tensors.at("shift.weight"));
        RowMatrix x;
        model->embed({{4}}, 0, x);
        QVERIFY((x.row(0) - embedding.row(4)).cwiseAbs().maxCoeff() < 1e-6f);
        const std::vector<TokenStep> previous{{7}};
        model->embed({{4}}, 1, x, &previous);
        QVERIFY((x.row(0) - embedding.row(4) - shift.row(7)).cwiseAbs().maxCoeff() < 1e-6f);
        expect_error([&] { model->embed({{4}}, 1, x); }, "token shift");
        State state = model->transformer().new_state();
        RowMatrix logits;
        model->step({{4}}, state, logits);
        expect_error([&] { model->step({{4}}, state, logits); }, "token shift");
        QCOMPARE(state.step, int64_t(1));
        file.tensors["shift.weight"] = Tensor::f32_zeros({3, embedding.cols()});
        expect_error([&] { TokenModel::from_file(file); }, "shift.weight");
    }

    // Without positions a recurrent twin runs past any training length, in a state that does not grow.
    void a_recurrent_text_model_generates_past_its_training_length() {
        const auto model = TokenModel::load(demo_path("text_delta.safetensors"));
        const auto prompt = model->tokenize("And God said");
        QCOMPARE(int(generate(*model, prompt, {3000, 0, 0}).size()), 3000);
        State state = model->transformer().new_state();
        RowMatrix logits;
        std::vector<TokenStep> previous;
        size_t bytes = 0;
        for (int t = 0; t < 300; ++t) {
            model->step({{t % 7}}, state, logits, nullptr, &previous);
            previous = {{t % 7}};
            if (t == 10) bytes = state.bytes();
        }
        QCOMPARE(state.bytes(), bytes);
    }

    void a_step_adds_its_tokens_embeddings() {
        const auto model = TokenModel::from_file(recall_file_);
        QCOMPARE(model->positions(), 0);
        const RowMatrix embedding = matrix_of(recall_file_.tensors.at("embedding.weight"));
        RowMatrix x;
        model->embed({{3, 140}, {5}}, 2, x);
        QVERIFY((x.row(0) - embedding.row(3) - embedding.row(140)).cwiseAbs().maxCoeff() < 1e-6f);
        QVERIFY((x.row(1) - embedding.row(5)).cwiseAbs().maxCoeff() < 1e-6f);
        QCOMPARE(model->step_text({3, 140}), std::string("k3+v12"));
        QCOMPARE(model->tokenize("k3+v12 k3+?"), (std::vector<TokenStep>{{3, 140}, {3, 256}}));
    }

    void a_step_adds_its_learned_position() {
        const auto model = TokenModel::from_file(positions_file_);
        const RowMatrix embedding = matrix_of(positions_file_.tensors.at("embedding.weight"));
        const RowMatrix positions = matrix_of(positions_file_.tensors.at("positions.weight"));
        const RowMatrix shift = matrix_of(positions_file_.tensors.at("shift.weight"));
        QCOMPARE(model->positions(), int(positions.rows()));
        RowMatrix x;
        const std::vector<TokenStep> previous{{1}};
        model->embed({{4}}, 7, x, &previous);
        QVERIFY((x.row(0) - embedding.row(4) - positions.row(7) - shift.row(1)).cwiseAbs().maxCoeff() < 1e-6f);
        QCOMPARE(model->tokenize("ab").size(), size_t(2));
    }

    void probabilities_are_a_softmax() {
        const auto model = TokenModel::from_file(recall_file_);
        State state = model->transformer().new_state();
        RowMatrix logits;
        model->step({{1, 130}}, state, logits);
        QCOMPARE(logits.cols(), long(model->vocabulary_size()));
        const RowMatrix p = TokenModel::probabilities(logits);
        QVERIFY(std::abs(p.sum() - 1.0f) < 1e-5f);
        Eigen::Index best_logit, best_probability;
        logits.row(0).maxCoeff(&best_logit);
        p.row(0).maxCoeff(&best_probability);
        QCOMPARE(best_logit, best_probability);
    }

    void stepping_past_the_learned_positions_is_refused() {
        const auto model = TokenModel::from_file(positions_file_);
        State state = model->transformer().new_state();
        RowMatrix logits;
        const std::vector<TokenStep> previous{{1}};
        for (int t = 0; t < model->positions(); ++t) model->step({{1}}, state, logits, nullptr, &previous);
        // Named as the explorer numbers steps, from 1: the step that would be the 65th of 64 positions.
        expect_error([&] { model->step({{1}}, state, logits, nullptr, &previous); },
                     ("step " + std::to_string(model->positions() + 1) + " is past the model's").c_str());
        QCOMPARE(state.step, int64_t(model->positions()));
        expect_error([&] { generate(*model, {{1}}, {model->positions() + 1, 0, 0}); }, "positions");
    }

    void bad_token_ids_are_refused() {
        const auto model = TokenModel::from_file(recall_file_);
        State state = model->transformer().new_state();
        RowMatrix logits;
        expect_error([&] { model->step({{257}}, state, logits); }, "outside the vocabulary");
        expect_error([&] { model->step({{-1}}, state, logits); }, "outside the vocabulary");
        expect_error([&] { model->step({{}}, state, logits); }, "no token");
        QCOMPARE(state.step, int64_t(0));
        expect_error([&] { model->tokenize("k3+x1"); }, "'x1'");
    }

    void hostile_heads_are_refused() {
        auto mutated = [&](const std::function<void(SafetensorsFile&)>& change) {
            SafetensorsFile file = recall_file_;
            change(file);
            return [file] { TokenModel::from_file(file); };
        };
        expect_error(mutated([](SafetensorsFile& f) { f.tensors.erase("embedding.weight"); }), "no token head");
        expect_error(mutated([](SafetensorsFile& f) { f.tensors.erase("readout.weight"); }), "readout.weight");
        expect_error(mutated([](SafetensorsFile& f) { f.metadata.erase("vocabulary"); }), "vocabulary");
        expect_error(mutated([](SafetensorsFile& f) { f.metadata["vocabulary"] = "[\"a\", \"b\"]"; }),
                     "rows, the vocabulary 2 tokens");
        expect_error(mutated([](SafetensorsFile& f) { f.metadata["vocabulary"] = "[\"a\", \"a\"]"; }), "repeats");
        expect_error(mutated([](SafetensorsFile& f) { f.metadata["vocabulary"] = "{not json"; }), "not valid JSON");
        expect_error(mutated([](SafetensorsFile& f) { f.metadata["task"] = "[1, 2]"; }), "JSON object");
        expect_error(mutated([](SafetensorsFile& f) {
                         f.tensors["embedding.weight"] = Tensor::f32_zeros({257, 31});
                     }),
                     "embedding.weight");
        expect_error(mutated([](SafetensorsFile& f) { f.tensors["positions.weight"] = Tensor::f32_zeros({80}); }),
                     "positions.weight");
        expect_error(mutated([](SafetensorsFile& f) {
                         f.tensors["positions.weight"] = Tensor::f32_zeros({80, 31});
                     }),
                     "positions.weight");
        expect_error(mutated([](SafetensorsFile& f) { f.tensors["readout.bias"] = Tensor::f32_zeros({256}); }),
                     "readout.bias");
        expect_error(mutated([](SafetensorsFile& f) {
                         f.tensors["readout.weight"] = Tensor::i64({257, 32}, std::vector<int64_t>(257 * 32));
                     }),
                     "readout.weight");
        expect_error(mutated([](SafetensorsFile& f) { f.tensors["head.extra"] = Tensor::f32_zeros({2}); }),
                     "head.extra");
        expect_error(mutated([](SafetensorsFile& f) { f.tensors.erase("norm.weight"); }), "norm.weight");
    }

    void hostile_evaluation_sets_are_refused() {
        auto evaluated = [&](const std::function<void(SafetensorsFile&)>& change) {
            SafetensorsFile file = recall_file_;
            change(file);
            return [file] { evaluate_stored(*TokenModel::from_file(file)); };
        };
        expect_error(evaluated([](SafetensorsFile& f) { f.metadata.erase("task"); }), "no task");
        expect_error(evaluated([](SafetensorsFile& f) { f.tensors.erase("evaluation.0.tokens"); }),
                     "no evaluation set");
        expect_error(evaluated([](SafetensorsFile& f) { f.tensors.erase("evaluation.1.targets"); }),
                     "evaluation.1.targets");
        expect_error(evaluated([](SafetensorsFile& f) {
                         f.tensors["evaluation.0.targets"] = Tensor::i64({1, 1}, {0});
                     }),
                     "do not match");
        expect_error(evaluated([](SafetensorsFile& f) { f.tensors["evaluation.0.tokens"].integers[0] = 999; }),
                     "outside the vocabulary");
    }

    void generation_is_deterministic() {
        const auto model = TokenModel::from_file(text_file_);
        const auto prompt = model->tokenize("And God said");
        const auto greedy = generate(*model, prompt, {20, 0, 0});
        QCOMPARE(generate(*model, prompt, {20, 0, 0}), greedy);
        QCOMPARE(generate(*model, prompt, {20, 0.8, 7}), generate(*model, prompt, {20, 0.8, 7}));
        QCOMPARE(int(greedy.size()), 20);
        expect_error([&] { generate(*model, {}, {5, 0, 0}); }, "empty");
        expect_error([&] { generate(*model, prompt, {5, -1, 0}); }, "temperature");
    }

    void eval_command_prints_the_json_the_issue_names() {
        const CliResult result = run_stepscope(
            {"eval", "--model", QString::fromStdString(demo_path("recall_softmax.safetensors")), "--json"});
        QVERIFY2(result.exit_code == 0, qPrintable(result.stderr_text));
        const QJsonObject json = QJsonDocument::fromJson(result.stdout_text.toUtf8()).object();
        QCOMPARE(json["task"].toString(), QString("recall"));
        QCOMPARE(json["metric"].toString(), QString("accuracy"));
        const double value = json["value"].toDouble(), trained = json["trained_value"].toDouble();
        QVERIFY(std::abs(value - trained) <= 0.01 * trained);
        QVERIFY(json["examples"].toInt() > 0);
        QCOMPARE(json["config"].toObject()["attention_type"].toString(), QString("full"));
        QVERIFY(json["groups"].toObject().contains("K=64"));
        const QJsonObject k64 = json["groups"].toObject()["K=64"].toObject();
        QCOMPARE(k64["steps"].toInt(), 80);
        QVERIFY(k64["state_bytes"].toDouble() > json["groups"].toObject()["K=4"].toObject()["state_bytes"].toDouble());
    }

    void a_comparison_curve_is_the_stored_evaluation() {
        const auto recall = TokenModel::load(demo_path("recall_linear.safetensors"));
        const auto text = TokenModel::load(demo_path("text_linear.safetensors"));
        const Evaluation evaluation = evaluate_stored(*recall);
        const ComparedModel curve = compare_model(*recall, "recall_linear");
        QCOMPARE(QString::fromStdString(curve.label), QString("recall_linear (linear)"));
        QCOMPARE(curve.value, evaluation.value);
        QCOMPARE(curve.points.size(), evaluation.groups.size());
        for (size_t i = 0; i < curve.points.size(); ++i) {
            const GroupScore& group = evaluation.groups[i];
            QCOMPARE(curve.points[i].group, group.name);
            QCOMPARE(curve.points[i].position, double(std::stoi(group.name.substr(2))));  // "K=16" -> 16
            QCOMPARE(curve.points[i].value, group.value);
            QCOMPARE(curve.points[i].state_bytes, group.state_bytes);
            QCOMPARE(curve.points[i].steps, group.steps);
        }
        QCOMPARE(QString::fromStdString(comparison_position_name({curve})), QString("stored pairs K"));
        QVERIFY(comparison_mismatch({curve}, curve).empty());
        // A text model's groups are windows: its x is the steps, and it cannot join a recall comparison.
        const ComparedModel words = compare_model(*text, "text_linear");
        QCOMPARE(words.points.front().position, double(words.points.front().steps));
        QCOMPARE(QString::fromStdString(comparison_position_name({curve, words})), QString("steps per sequence"));
        QVERIFY(QString::fromStdString(comparison_mismatch({curve}, words)).contains("compare models of one task"));
    }

    void eval_compares_models_in_one_svg() {
        const QString svg = dir_.path() + "/compare.svg";
        QStringList arguments{"eval", "--compare"};
        for (const char* kind : {"softmax", "linear", "delta"})
            arguments << QString::fromStdString(demo_path(std::string("recall_") + kind + ".safetensors"));
        arguments << "--plot" << svg << "--json";
        const CliResult result = run_stepscope(arguments);
        QVERIFY2(result.exit_code == 0, qPrintable(result.stderr_text));
        const QString json_line = result.stdout_text.trimmed().split('\n').last();
        const QJsonObject json = QJsonDocument::fromJson(json_line.toUtf8()).object();
        QCOMPARE(json["models"].toArray().size(), 3);
        QFile file(svg);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(file.readAll());
        QVERIFY(text.startsWith("<svg"));
        QCOMPARE(text.count("<polyline"), 6);  // each model in both panels
        QCOMPARE(text.count("<circle"), 30);   // K = 4 ... 64
        QVERIFY(text.contains("recall_delta (delta)"));
        // Models of another metric, no files, and a plot without models are refused in one line.
        STEPSCOPE_VERIFY_USAGE_ERROR("eval",
                                     (QStringList{"eval", "--compare", arguments[2],
                                                  QString::fromStdString(demo_path("text_linear.safetensors"))}));
        STEPSCOPE_VERIFY_USAGE_ERROR("eval", (QStringList{"eval", "--compare", "--json"}));
        STEPSCOPE_VERIFY_USAGE_ERROR("eval", (QStringList{"eval", "--model", arguments[2], "--plot", svg}));
    }

    void generate_command_repeats_itself() {
        const QStringList arguments{"generate", "--model", QString::fromStdString(demo_path("text_linear.safetensors")),
                                    "--prompt", "And God", "--steps",
                                    "30"};
        const CliResult first = run_stepscope(arguments), second = run_stepscope(arguments);
        QVERIFY2(first.exit_code == 0, qPrintable(first.stderr_text));
        QVERIFY(first.stdout_text.startsWith("And God"));
        QCOMPARE(first.stdout_text, second.stdout_text);
        QCOMPARE(first.stdout_text.chopped(1).size(), QString("And God").size() + 30);
    }

    void commands_refuse_bad_input_in_one_line() {
        const QString text_model = QString::fromStdString(demo_path("text_linear.safetensors"));
        const QString golden =
            QString::fromStdString(std::string(STEPSCOPE_GOLDEN_DIR) + "/enc_linear/model.safetensors");
        STEPSCOPE_VERIFY_USAGE_ERROR("eval", (QStringList{"eval", "--model", golden}));
        STEPSCOPE_VERIFY_USAGE_ERROR("eval", (QStringList{"eval"}));
        STEPSCOPE_VERIFY_USAGE_ERROR("replay", (QStringList{"replay", "--model", text_model, "--inputs",
                                                            QString::fromStdString(std::string(STEPSCOPE_GOLDEN_DIR) +
                                                                                   "/enc_linear/io.safetensors"),
                                                            "--output", dir_.path() + "/out.safetensors"}));
        STEPSCOPE_VERIFY_USAGE_ERROR("eval", (QStringList{"eval", "--model", dir_.path() + "/missing.safetensors"}));
        STEPSCOPE_VERIFY_USAGE_ERROR("generate",
                                     (QStringList{"generate", "--model", golden, "--prompt", "a", "--steps", "1"}));
        STEPSCOPE_VERIFY_USAGE_ERROR("generate", (QStringList{"generate", "--model", text_model, "--prompt", "a"}));
        STEPSCOPE_VERIFY_USAGE_ERROR("generate",
                                     (QStringList{"generate", "--model", text_model, "--prompt", "a", "--steps", "x"}));
        STEPSCOPE_VERIFY_USAGE_ERROR("generate",
                                     (QStringList{"generate", "--model", text_model, "--prompt", "", "--steps", "3"}));
        STEPSCOPE_VERIFY_USAGE_ERROR("generate", (QStringList{"generate", "--model", text_model, "--prompt", "a",
                                                              "--steps", "3", "--temperature", "-1"}));
        STEPSCOPE_VERIFY_USAGE_ERROR("generate", (QStringList{"generate", "--model", text_model, "--prompt", "a",
                                                              "--steps", "100001"}));
        STEPSCOPE_VERIFY_USAGE_ERROR("generate", (QStringList{"generate", "--model", text_model, "--prompt",
                                                              QString::fromUtf8("\xe2\x98\x83"), "--steps", "3"}));
    }
};

QTEST_GUILESS_MAIN(TokenModelsTest)
#include "test_token_models.moc"
