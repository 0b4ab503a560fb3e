// What the explorer asks of a token model: top-k predictions, token choice, fresh recall instances,
// the targets of typed steps, and stored pairs read back through a state.
#include <QtTest>

#include <algorithm>
#include <set>

#include "stepscope/error.h"
#include "stepscope/token_model.h"
#include "stepscope/token_tasks.h"

using namespace stepscope;

namespace {

std::shared_ptr<const TokenModel> demo(const std::string& name) {
    return TokenModel::load(std::string(STEPSCOPE_MODELS_DIR) + "/" + name + ".safetensors");
}

// Feeds the first `count` steps of `instance` (N = 1) and returns the state and the last logits.
State fed(const TokenModel& model, const TaskInstance& instance, size_t count, RowMatrix& logits) {
    State state = model.transformer().new_state();
    for (size_t t = 0; t < count; ++t) model.step({instance.steps[t]}, state, logits);
    return state;
}

}  // namespace

class TokenTasksTest : public QObject {
    Q_OBJECT
    std::shared_ptr<const TokenModel> softmax_, linear_, text_;

private slots:
    void initTestCase() {
        softmax_ = demo("recall_softmax");
        linear_ = demo("recall_linear");
        text_ = demo("text_linear");
    }

    void top_k_lists_the_most_probable_first() {
        RowMatrix logits(1, 6);
        logits << 0.5f, 3.0f, -1.0f, 3.0f, 2.0f, 0.0f;
        const RowMatrix p = TokenModel::probabilities(logits);
        const auto best = top_k(p, 3);
        QCOMPARE(int(best.size()), 3);
        QCOMPARE(best[0].token, int64_t(1));  // a tie goes to the lower id
        QCOMPARE(best[1].token, int64_t(3));
        QCOMPARE(best[2].token, int64_t(4));
        for (const Prediction& prediction : best) QCOMPARE(prediction.probability, p(0, prediction.token));
        QCOMPARE(int(top_k(p, 10).size()), 6);
        QVERIFY(top_k(p, 0).empty());
    }

    void choose_token_is_the_argmax_or_a_draw_by_u() {
        RowMatrix logits(1, 3);
        logits << 0.0f, 2.0f, 1.0f;
        QCOMPARE(choose_token(logits, 0, 0.99), int64_t(1));
        const RowMatrix p = TokenModel::probabilities(logits);
        QCOMPARE(choose_token(logits, 1, 0.0), int64_t(0));
        QCOMPARE(choose_token(logits, 1, double(p(0, 0)) + 1e-6), int64_t(1));
        QCOMPARE(choose_token(logits, 1, 0.999999), int64_t(2));
    }

    void recall_instances_are_seeded_and_well_formed() {
        const TaskInstance a = draw_recall_instance(*softmax_, 32, 7);
        QCOMPARE(draw_recall_instance(*softmax_, 32, 7).steps, a.steps);
        QVERIFY(draw_recall_instance(*softmax_, 32, 8).steps != a.steps);
        QCOMPARE(a.steps.size(), a.targets.size());
        std::set<int64_t> keys;
        for (int i = 0; i < 32; ++i) {
            QCOMPARE(a.targets[size_t(i)], int64_t(-1));
            keys.insert(a.steps[size_t(i)][0]);
        }
        QCOMPARE(int(keys.size()), 32);
        QVERIFY(a.steps.size() > 32);
        for (size_t t = 32; t < a.steps.size(); ++t) {
            QVERIFY(keys.count(a.steps[t][0]));
            QCOMPARE(softmax_->step_text({a.steps[t][1]}), std::string("?"));
        }
        // The targets of the typed-in steps are those of the drawn instance.
        QCOMPARE(task_targets(*softmax_, a.steps), a.targets);
        QVERIFY_THROWS_EXCEPTION(Error, draw_recall_instance(*softmax_, 0, 1));
        QVERIFY_THROWS_EXCEPTION(Error, draw_recall_instance(*softmax_, 129, 1));
        QVERIFY_THROWS_EXCEPTION(Error, draw_recall_instance(*text_, 8, 1));
    }

    void typed_steps_get_their_targets() {
        const auto steps = softmax_->tokenize("k3+v9 k5+v1 k3+? k7+? k3+v2 k3+?");
        const auto targets = task_targets(*softmax_, steps);
        const std::vector<int64_t> expected{-1, -1, softmax_->token_id("v9"), -1, -1, softmax_->token_id("v2")};
        QCOMPARE(targets, expected);
        const auto text = text_->tokenize("abc");
        QCOMPARE(task_targets(*text_, text), (std::vector<int64_t>{text[1][0], text[2][0], -1}));
    }

    // Querying a stored key through read_back gives what stepping the query itself gives.
    void read_back_agrees_with_asking_the_query() {
        const TaskInstance instance = draw_recall_instance(*linear_, 16, 3);
        RowMatrix logits;
        const State state = fed(*linear_, instance, 16, logits);
        const auto pairs = stored_pairs(*linear_, instance.steps, 16);
        QCOMPARE(int(pairs.size()), 16);
        const auto read = read_back(*linear_, state, {pairs});
        QCOMPARE(state.step, int64_t(16));  // unchanged
        QCOMPARE(int(read[0].size()), 16);
        for (size_t j = 0; j < pairs.size(); ++j) {
            State asked = state;
            linear_->step({{pairs[j].first, linear_->token_id("?")}}, asked, logits);
            const RowMatrix p = TokenModel::probabilities(logits);
            QCOMPARE(read[0][j].probability, p(0, pairs[j].second));
            Eigen::Index best;
            p.row(0).maxCoeff(&best);
            QCOMPARE(read[0][j].correct, best == pairs[j].second);
        }
    }

    // Softmax reads back every stored pair; linear attention's state loses some of 64.
    void softmax_reads_back_what_linear_attention_forgets() {
        const TaskInstance instance = draw_recall_instance(*softmax_, 64, 11);
        RowMatrix logits;
        const auto pairs = stored_pairs(*softmax_, instance.steps, 64);
        const auto count = [&](const TokenModel& model) {
            const auto read = read_back(model, fed(model, instance, 64, logits), {pairs});
            return std::count_if(read[0].begin(), read[0].end(), [](const Retrieval& r) { return r.correct; });
        };
        QCOMPARE(int(count(*softmax_)), 64);
        QVERIFY2(count(*linear_) < 48, qPrintable(QString::number(count(*linear_))));
        QVERIFY_THROWS_EXCEPTION(Error, read_back(*softmax_, softmax_->transformer().new_state(), {pairs, pairs}));
    }
};

QTEST_GUILESS_MAIN(TokenTasksTest)
#include "test_token_tasks.moc"
