// The explorer on token models: the demo list, token input (typed, ids, a drawn instance, generation)
// checked against the engine, bad token input refused keeping the run, the Tokens view, the CSV
// columns, the session round trip and a branch's change in the answer's probability.
#include <QFile>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include "plots/capacity_plot.h"
#include "plots/plot_panel.h"
#include "plots/token_ticker.h"
#include "plots/token_view.h"
#include "qcustomplot.h"
#include "session/demo_models.h"
#include "session/file_kind.h"
#include "session/trace_csv.h"
#include "stepscope/error.h"
#include "stepscope/token_tasks.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

QString demo_path(const QString& name) { return QStringLiteral(STEPSCOPE_MODELS_DIR "/%1.safetensors").arg(name); }

// A run of a shipped demo on token input: `configure` sets the input.
SessionSpec token_spec(const QString& demo, const std::function<void(InputSpec&)>& configure, int batch = 2) {
    SessionSpec spec;
    spec.weights_path = demo_path(demo);
    spec.config = TokenModel::load(spec.weights_path.toStdString())->transformer().config();
    spec.input.kind = InputKind::Tokens;
    spec.input.seed = 3;
    configure(spec.input);
    spec.batch = batch;
    return spec;
}

// What the Tokens tab asks while shown: the stored pairs read back after each step.
ObservationOptions reading_back() {
    ObservationOptions what;
    what.read_back = true;
    return what;
}

std::vector<BatchRecord> advance(Session& session, int steps) {
    std::vector<BatchRecord> records;
    for (int t = 0; t < steps; ++t) records.push_back(session.advance());
    return records;
}

}  // namespace

class TokensTest : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

private slots:
    void the_demo_list_names_each_shipped_model() {
        const QList<DemoModel> demos = demo_models();
        QStringList names;
        for (const DemoModel& demo : demos) {
            names << demo.name;
            QVERIFY(QFileInfo(demo.path).isFile());
            QVERIFY2(!demo.description.contains('\n') && demo.description.contains("2 layers"),
                     qPrintable(demo.description));
        }
        for (const char* name : {"recall_linear", "recall_softmax", "recall_gated_linear", "recall_delta",
                                 "recall_gated_delta", "text_linear", "text_softmax", "text_delta"})
            QVERIFY2(names.contains(name), qPrintable(names.join(',')));
        for (const DemoModel& demo : demos) {
            const auto metadata = safetensors_metadata(demo.path);
            QVERIFY(is_token_model(metadata));
            const InputSpec input = default_token_input(metadata, InputSpec{});
            QCOMPARE(input.kind, InputKind::Tokens);
            // Each demo's default input opens a run.
            SessionSpec spec = token_spec(demo.name, [&](InputSpec& i) { i = input; });
            QVERIFY(Session::open(spec)->info().tokens);
        }
    }

    // The run's predictions are the engine's for the instance it drew; softmax answers every query.
    void a_drawn_recall_instance_runs_as_the_engine_steps_it() {
        const SessionSpec spec = token_spec("recall_softmax", [](InputSpec& i) { i.pairs = 8; });
        auto session = Session::open(spec);
        // Not shown, not read back: a step costs one step.
        QVERIFY(session->advance().retrieval.empty());
        session->rewind(0);
        session->set_observation(reading_back());
        const auto model = session->info().tokens;
        const TaskInstance instance = draw_recall_instance(*model, 8, spec.input.seed);
        const auto records = advance(*session, int(instance.steps.size()));
        State state = model->transformer().new_state();
        RowMatrix logits;
        int scored = 0;
        for (size_t t = 0; t < instance.steps.size(); ++t) {
            model->step({instance.steps[t]}, state, logits);
            const TokenPrediction& p = records[t].tokens[0];
            QCOMPARE(p.input, instance.steps[t]);
            QCOMPARE(p.target, instance.targets[t]);
            QCOMPARE(int(p.top.size()), 5);
            const auto expected = top_k(TokenModel::probabilities(logits), 5);
            QCOMPARE(p.top.front().token, expected.front().token);
            QVERIFY(std::abs(p.top.front().probability - expected.front().probability) < 1e-4);
            for (size_t k = 1; k < p.top.size(); ++k) QVERIFY(p.top[k].probability <= p.top[k - 1].probability);
            if (p.target >= 0) {
                ++scored;
                QVERIFY(p.correct);
            }
            // Every pair stored so far is read back, for the observed element.
            QCOMPARE(records[t].retrieval.size(), std::min<size_t>(t + 1, 8));
        }
        QVERIFY(scored > 0);
        // Another sequence of the batch draws another instance.
        QVERIFY(records[0].tokens[1].input != records[0].tokens[0].input ||
                records[1].tokens[1].input != records[1].tokens[0].input);
    }

    // After the prompt the run feeds its own predictions: greedy, as `stepscope generate` does.
    void feedback_is_generation() {
        const SessionSpec spec = token_spec(
            "text_linear", [](InputSpec& i) { i.text = "And God said"; }, 1);
        auto session = Session::open(spec);
        const auto model = session->info().tokens;
        const auto prompt = model->tokenize("And God said");
        const auto generated = generate(*model, prompt, {10, 0, 0});
        const auto records = advance(*session, int(prompt.size()) + 10);
        for (size_t i = 0; i < 10; ++i) QCOMPARE(records[prompt.size() + i].tokens[0].input, TokenStep{generated[i]});
        // Sampled: the same seed gives the same text, and a rewind replays it.
        const SessionSpec sampled = token_spec("text_linear", [](InputSpec& i) {
            i.text = "The";
            i.temperature = 0.8;
        });
        auto a = Session::open(sampled), b = Session::open(sampled);
        const auto first = advance(*a, 30), second = advance(*b, 30);
        for (size_t t = 0; t < first.size(); ++t) QCOMPARE(first[t].tokens[1].input, second[t].tokens[1].input);
        a->rewind(10);
        const auto again = advance(*a, 20);
        for (size_t t = 0; t < again.size(); ++t) QCOMPARE(again[t].tokens[1].input, first[t + 10].tokens[1].input);
        // The text demos shift tokens: a snapshot keeps the last step's tokens, and the restored run
        // continues as the original did.
        QVERIFY(model->token_shift());
        const QString snapshot = dir_.filePath("shifted.safetensors");
        a->save_snapshot(snapshot, 20);
        auto c = Session::open(sampled);
        c->restore(snapshot);
        const auto continued = advance(*c, 10);
        for (size_t t = 0; t < continued.size(); ++t) {
            QCOMPARE(continued[t].tokens[1].input, first[t + 20].tokens[1].input);
            QCOMPARE(continued[t].outputs, first[t + 20].outputs);
        }
    }

    void typed_ids_and_text_agree() {
        auto by_text = Session::open(token_spec("recall_linear", [](InputSpec& i) { i.text = "k3+v9 k5+v1 k3+?"; }));
        const auto model = by_text->info().tokens;
        const QString ids = QStringLiteral("%1+%2 %3+%4 %1+%5")
                                .arg(model->token_id("k3"))
                                .arg(model->token_id("v9"))
                                .arg(model->token_id("k5"))
                                .arg(model->token_id("v1"))
                                .arg(model->token_id("?"));
        auto by_ids = Session::open(token_spec("recall_linear", [&](InputSpec& i) {
            i.text = ids;
            i.ids = true;
        }));
        const auto a = advance(*by_text, 3), b = advance(*by_ids, 3);
        QCOMPARE(a[2].outputs, b[2].outputs);
        QCOMPARE(a[2].tokens[0].target, model->token_id("v9"));
    }

    void bad_token_input_is_refused_in_one_line_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("ids");
        QTest::addColumn<QString>("named");
        QTest::newRow("unknown token") << "k3+v9 zz+?" << false << "'zz'";
        QTest::newRow("id out of range") << "3+999" << true << "999";
        QTest::newRow("id not a number") << "3+x" << true << "'x'";
        QTest::newRow("nothing typed") << "   " << false << "no tokens";
    }

    void bad_token_input_is_refused_in_one_line() {
        QFETCH(QString, text);
        QFETCH(bool, ids);
        QFETCH(QString, named);
        const SessionSpec spec = token_spec("recall_linear", [&](InputSpec& i) {
            i.text = text;
            i.ids = ids;
        });
        try {
            Session::open(spec);
            QFAIL("no error");
        } catch (const Error& e) {
            const QString message = QString::fromStdString(e.what());
            QVERIFY2(message.contains(named) && !message.contains('\n'), qPrintable(message));
        }
    }

    // The longest prompt a session may hold, typed for the largest batch: held once, scored in one pass.
    void a_long_prompt_for_a_large_batch_opens_at_once() {
        QElapsedTimer timer;
        timer.start();
        QString pairs;
        for (int i = 0; i < kMaxTokenText / 12; ++i)
            pairs += QStringLiteral("k%1+v%2 k%1+? ").arg(i % 128).arg(i % 100);
        auto session = Session::open(token_spec(
            "recall_linear", [&](InputSpec& in) { in.text = pairs; }, kMaxBatch));
        session->advance();
        const BatchRecord second = session->advance();
        QCOMPARE(int(second.tokens.size()), kMaxBatch);
        QCOMPARE(second.tokens[kMaxBatch - 1].target, session->info().tokens->token_id("v0"));
        QVERIFY2(timer.elapsed() < 10000, qPrintable(QString::number(timer.elapsed())));
    }

    void a_token_model_with_vector_input_says_to_choose_tokens() {
        SessionSpec spec = token_spec("text_linear", [](InputSpec& i) { i.kind = InputKind::Random; });
        try {
            Session::open(spec);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("choose the token input"), e.what());
        }
        // Token input without a token head is refused as plainly.
        spec = small_spec("linear", InputKind::Tokens);
        spec.input.text = "a";
        QVERIFY_THROWS_EXCEPTION(Error, Session::open(spec));
    }

    // In the window's controller: the refusal names the input and the run that was open stays.
    void a_refused_token_input_keeps_the_run() {
        SessionController run;
        run.open(token_spec("recall_softmax", [](InputSpec& i) { i.pairs = 4; }));
        QVERIFY(wait_idle(run));
        run.step(6);
        QVERIFY(wait_idle(run));
        QCOMPARE(run.traces().last_step(), int64_t(6));
        QSignalSpy failed(&run, &SessionController::failed);
        run.open(token_spec("recall_softmax", [](InputSpec& i) { i.text = "k1+v1 k999+?"; }));
        QVERIFY(wait_idle(run));
        QCOMPARE(failed.count(), 1);
        QCOMPARE(failed.first().at(0).toString(), QStringLiteral("input"));
        QVERIFY(failed.first().at(1).toString().contains("k999"));
        QCOMPARE(run.traces().last_step(), int64_t(6));
        QCOMPARE(run.spec().input.pairs, 4);
    }

    void token_input_survives_the_session_file() {
        SessionSpec spec = token_spec("text_softmax", [](InputSpec& i) {
            i.text = "Lord, 'quoted'";
            i.temperature = 0.5;
        });
        const SessionSpec back = session_from_json(session_to_json(spec));
        QCOMPARE(back.input.kind, InputKind::Tokens);
        QCOMPARE(back.input.text, spec.input.text);
        QCOMPARE(back.input.temperature, 0.5);
        QCOMPARE(back.input.pairs, 0);
        SessionSpec drawn = spec;
        drawn.input.pairs = 16;
        QCOMPARE(session_from_json(session_to_json(drawn)).input.pairs, 16);
        // A saved run reopens to the same steps.
        auto a = Session::open(spec), b = Session::open(session_from_json(session_to_json(a->spec())));
        QCOMPARE(advance(*a, 20).back().outputs, advance(*b, 20).back().outputs);
        for (const char* bad : {R"({"config": {}, "input": {"source": "tokens"}})",
                                R"({"config": {}, "input": {"source": "tokens", "text": "a", "temperature": -1}})",
                                R"({"config": {}, "input": {"source": "tokens", "text": "a", "ids": 1}})"}) {
            const QJsonObject object = QJsonDocument::fromJson(bad).object();
            QVERIFY_THROWS_EXCEPTION(Error, session_from_json(object));
        }
    }

    // A recall instance ends with its queries: the steps after it read the model's own predictions,
    // marked in the records and said in the Tokens view.
    void the_end_of_an_instance_is_marked() {
        auto session = Session::open(token_spec("recall_softmax", [](InputSpec& i) { i.pairs = 4; }));
        TraceStore store;
        store.start(session->info());
        store.append(advance(*session, 30));
        const auto& records = store.records();
        const auto first =
            std::find_if(records.begin(), records.end(), [](const StepRecord& r) { return r.token->generated; });
        QVERIFY(first != records.end() && first != records.begin());
        QVERIFY(std::all_of(first, records.end(), [](const StepRecord& r) { return r.token->generated; }));
        TokenView view(&store);
        view.setViewStep(-1);
        view.rebuild();
        QVERIFY2(view.summary().contains(QStringLiteral("recall instance ended at step %1").arg(first->step - 1)),
                 qPrintable(view.summary()));
        QVERIFY(view.steps()->item(int(first - records.begin()), 1)->text().contains("generated"));
    }

    // The view's rows and running accuracy are the records'.
    void the_tokens_view_lists_predictions_and_accuracy() {
        auto session = Session::open(token_spec("recall_linear", [](InputSpec& i) { i.pairs = 32; }));
        session->set_observation(reading_back());
        TraceStore store;
        store.start(session->info());
        const auto records = advance(*session, 48);
        store.append(records);
        TokenView view(&store);
        view.setViewStep(-1);
        view.rebuild();
        QCOMPARE(view.steps()->rowCount(), 48);
        int scored = 0, right = 0;
        for (int t = 0; t < 48; ++t) {
            const TokenPrediction& p = *store.records()[size_t(t)].token;
            QCOMPARE(view.steps()->item(t, 2)->text(), predictions_text(*store.info().tokens, p));
            scored += p.target >= 0;
            right += p.target >= 0 && p.correct;
            QCOMPARE(view.steps()->item(t, 4)->text().isEmpty(), p.target < 0);
        }
        QVERIFY(scored > 0);
        QVERIFY2(view.summary().contains(QStringLiteral("%1 of %2").arg(right).arg(scored)),
                 qPrintable(view.summary()));
        QCOMPARE(view.retrieval()->rowCount(), 32);
        // Scrubbed back: rows end at the viewed step.
        view.setViewStep(20);
        view.rebuild();
        QCOMPARE(view.steps()->rowCount(), 20);
        QCOMPARE(view.retrieval()->rowCount(), 20);
        // Axis labels name the step's tokens.
        QCOMPARE(step_token_text(&store, 5),
                 QString::fromStdString(store.info().tokens->step_text(store.records()[4].token->input)));
        QVERIFY(step_token_text(&store, 500).isEmpty());
    }

    // The State capacity tab plots the read-back over steps, and asks for it only while it shows it.
    void state_capacity_plots_the_pairs_read_back() {
        auto session = Session::open(token_spec("recall_linear", [](InputSpec& i) { i.pairs = 16; }));
        TraceStore store;
        store.start(session->info());
        PlotPanel panel(&store);
        QVERIFY(!panel.observation().read_back);
        panel.showView(panel.tokens());
        QVERIFY(panel.observation().read_back);
        panel.capacity()->select(AttentionRole::Self, 0, CapacityPlot::Quantity::ReadBack);
        panel.showView(panel.capacity());
        QVERIFY(panel.observation().read_back);
        session->set_observation(panel.observation());
        const auto records = advance(*session, 24);
        store.append(records);
        panel.rebuildAll();
        const auto& graphs = panel.capacity()->currentGraphs();
        QCOMPARE(int(graphs.size()), 2);
        QCOMPARE(graphs[0]->dataCount(), 24);
        double right = 0;
        for (const Retrieval& r : records.back().retrieval) right += r.correct;
        QCOMPARE((graphs[0]->data()->end() - 1)->value, right / double(records.back().retrieval.size()));
        panel.capacity()->select(AttentionRole::Self, 0, CapacityPlot::Quantity::EffectiveRank);
        QVERIFY(!panel.observation().read_back);
    }

    void the_traces_csv_gains_token_columns() {
        auto session = Session::open(token_spec("text_linear", [](InputSpec& i) { i.text = "a, 'b'\nc"; }));
        TraceStore store;
        store.start(session->info());
        store.append(advance(*session, 8));
        const QString path = dir_.filePath("tokens.csv");
        write_traces_csv(path, store);
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly | QIODevice::Text));
        const QStringList lines = QString::fromUtf8(file.readAll()).split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 1 + 8 * 2);
        QVERIFY(lines[0].endsWith(",token,prediction,p_prediction,answer,p_answer,right"));
        // Step 2 reads ',' (quoted) and expects ' '; the newline is escaped, so one line per row.
        QVERIFY2(lines[3].contains(",\",\","), qPrintable(lines[3]));
        QVERIFY2(lines[13].contains(",\\n,"), qPrintable(lines[13]));  // step 7 reads the newline
        // Step 1 reads 'a' and expects ','.
        QVERIFY2(lines[1].endsWith(QStringLiteral(",a,%1,%2,\",\",%3,%4")
                                       .arg(QString::fromStdString(store.info().tokens->step_text(
                                           {store.batch_records()[0].tokens[0].top[0].token})))
                                       .arg(store.batch_records()[0].tokens[0].top[0].probability, 0, 'g', 8)
                                       .arg(store.batch_records()[0].tokens[0].target_probability, 0, 'g', 8)
                                       .arg(store.batch_records()[0].tokens[0].correct ? 1 : 0)),
                 qPrintable(lines[1]));
        // A vector model's CSV has no token columns.
        auto vector_run = Session::open(small_spec());
        TraceStore vectors;
        vectors.start(vector_run->info());
        vectors.append(advance(*vector_run, 2));
        write_traces_csv(dir_.filePath("vector.csv"), vectors);
        QFile vector_file(dir_.filePath("vector.csv"));
        QVERIFY(vector_file.open(QIODevice::ReadOnly));
        QVERIFY(!vector_file.readLine().contains("token"));
    }

    // A branch: the change in the answer's probability is the difference with the run without it.
    void a_branch_reports_the_change_in_the_answers_probability() {
        const SessionSpec spec = token_spec(
            "recall_softmax", [](InputSpec& i) { i.pairs = 16; }, 1);
        auto original = Session::open(spec), branch = Session::open(spec);
        advance(*original, 16);
        advance(*branch, 16);
        Intervention ablate;
        ablate.kind = InterventionKind::AblateHead;
        ablate.layer = 1;
        ablate.head = 0;
        branch->intervene(ablate);
        const auto a = advance(*original, 16), b = advance(*branch, 16);
        bool changed = false;
        for (size_t t = 0; t < a.size(); ++t) {
            const TokenPrediction &p = b[t].tokens[0], &q = a[t].tokens[0];
            QVERIFY(p.target >= 0);
            QCOMPARE(p.target_change, p.target_probability - q.target_probability);
            changed = changed || std::abs(p.target_change) > 1e-3;
        }
        QVERIFY(changed);
        QVERIFY(std::isnan(a[0].tokens[0].target_change));
    }

    // A fork: the first query asks for another stored key; the branch answers that key's value.
    void a_token_fork_asks_another_question() {
        const SessionSpec spec = token_spec(
            "recall_softmax", [](InputSpec& i) { i.pairs = 8; }, 1);
        auto session = Session::open(spec);
        const auto model = session->info().tokens;
        const TaskInstance instance = draw_recall_instance(*model, 8, spec.input.seed);
        advance(*session, 8);
        // Ask for the key stored at step 2 whatever the instance queries first.
        const TokenStep query{instance.steps[2][0], model->token_id("?")};
        Intervention fork;
        fork.kind = InterventionKind::EditToken;
        fork.element = 0;
        fork.tokens = QString::fromStdString(model->step_text(query));
        session->intervene(fork);
        const auto records = advance(*session, 2);
        const TokenPrediction& asked = records[0].tokens[0];
        QCOMPARE(asked.input, query);
        QCOMPARE(asked.target, instance.steps[2][1]);
        QVERIFY(asked.correct);
        // The next step reads the instance again: the branch and its original see the same input.
        QCOMPARE(records[1].tokens[0].input, instance.steps[9]);
        QVERIFY(!records[0].divergence.empty());
        // A session keeps the fork; text that is not one step is refused naming it.
        const SessionSpec back = session_from_json(session_to_json(session->spec()));
        QCOMPARE(back.interventions.size(), size_t(1));
        QCOMPARE(back.interventions[0].tokens, fork.tokens);
        fork.tokens = QStringLiteral("k1+? k2+?");
        try {
            session->intervene(fork);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("not one"), e.what());
        }
    }
};

QTEST_MAIN(TokensTest)
#include "test_ui_tokens.moc"
