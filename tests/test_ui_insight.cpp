// Seeing inside linear attention in the explorer: implicit maps, capacity, interventions, branches and forks.
#include <QComboBox>
#include <QJsonDocument>
#include <QStandardItemModel>
#include <QTemporaryDir>
#include <QtTest>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "gui_script.h"
#include "intervene_panel.h"
#include "main_window.h"
#include "plots/attention_plot.h"
#include "plots/divergence_plot.h"
#include "plots/performance_plot.h"
#include "plots/plot_panel.h"
#include "plots/spectrum_plot.h"
#include "plots/state_plot.h"
#include "session/trace_csv.h"
#include "session/insight_records.h"
#include "stepscope/attention_kind.h"
#include "stepscope/error.h"
#include "stepscope/implicit_attention.h"
#include "stepscope/state_spectrum.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

// The engine's own maps and outputs for one batch element, stepped directly.
struct EngineMaps : StepObserver {
    int layer = 0;
    std::vector<RowMatrix> maps;  // per step: (H, K) of the observed element
    void attention_map(int l, AttentionRole role, const AttentionMap& map) override {
        if (l == layer && role == AttentionRole::Self) maps.push_back(map.weights);
    }
};

const AttentionRows* linear_rows(const StepRecord& r, int layer) {
    for (const AttentionRows& a : r.attention)
        if (a.implicit && a.layer == layer && a.role == AttentionRole::Self) return &a;
    return nullptr;
}

ObservationOptions observe(int layer, bool attention, bool spectrum) {
    ObservationOptions what;
    what.layers = {layer};
    what.attention = attention;
    what.spectrum = spectrum;
    return what;
}

Intervention ablate(int layer, int head) {
    Intervention i;
    i.kind = InterventionKind::AblateHead;
    i.layer = layer;
    i.head = head;
    return i;
}

}  // namespace

class InsightTest : public QObject {
    Q_OBJECT

private slots:
    void implicit_map_matches_engine() {
        SessionController run;
        const SessionSpec spec = small_spec("causal-linear", InputKind::Random);
        run.open(spec);
        run.setObservation(observe(1, true, false));
        QVERIFY(wait_idle(run));
        run.step(6);
        QVERIFY(wait_idle(run));
        QCOMPARE(run.traces().size(), 6);

        // The same steps through the engine, observed directly.
        const auto model = run.traces().info().model;
        ObservationOptions what = observe(1, true, false);
        what.batch_element = spec.observed;
        Observation observation(what);
        EngineMaps engine;
        engine.layer = 1;
        State state = model->new_state(spec.sequence_seed);
        InputSource source(spec, model->config());
        RowMatrix x, y, previous;
        for (int t = 0; t < 6; ++t) {
            source.input(t, previous, x);
            model->step(x, state, y, StepOptions{&engine, &observation});
            previous = y;
        }
        QCOMPARE(int(engine.maps.size()), 6);
        for (int t = 0; t < 6; ++t) {
            const StepRecord& r = run.traces().records()[size_t(t)];
            const AttentionRows* rows = linear_rows(r, 1);
            QVERIFY2(rows, "a linear layer observed records its implicit weights");
            QCOMPARE(rows->keys, t + 1);
            QCOMPARE(rows->first_key, 0);
            const CapacityRecord* c = capacity_of(r, 1, AttentionRole::Self);
            QVERIFY(c && int(c->denominator.size()) == rows->heads);
            for (int h = 0; h < rows->heads; ++h) {
                double sum = 0;
                for (int k = 0; k < rows->keys; ++k) {
                    const float w = rows->weights[size_t(h) * rows->keys + k];
                    QCOMPARE(w, engine.maps[size_t(t)](h, k));
                    sum += w;
                }
                // Row sums of the implicit map: phi(q).Z / (phi(q).Z + eps).
                const double d = c->denominator[size_t(h)];
                QVERIFY2(std::abs(sum - d / (d + spec.config.eps)) < 1e-5, qPrintable(QString::number(sum)));
            }
        }
        // Layer 0 was not observed: it costs nothing and records nothing.
        QVERIFY(!linear_rows(run.traces().records().back(), 0));
    }

    void linear_cross_attention_respects_the_memory_mask() {
        SessionSpec spec = small_spec("linear", InputKind::Random);
        spec.config.kind = ModelKind::Decoder;
        spec.config.self_attention_type = "causal-linear";
        spec.config.cross_attention_type = "linear";
        spec.memory.length = 9;
        // Follow the sequence with the shortest memory, so that some elements are masked.
        const InputSource source(spec, spec.config);
        const auto& lengths = source.memory()->lengths;
        spec.observed = int(std::min_element(lengths.begin(), lengths.end()) - lengths.begin());
        const int valid = int(lengths[size_t(spec.observed)]);
        QVERIFY(valid < 9);
        SessionController run;
        run.open(spec);
        run.setObservation(observe(1, true, false));
        QVERIFY(wait_idle(run));
        run.step(3);
        QVERIFY(wait_idle(run));
        const StepRecord& r = run.traces().records().back();
        const AttentionRows* cross = nullptr;
        for (const AttentionRows& a : r.attention)
            if (a.implicit && a.layer == 1 && a.role == AttentionRole::Cross) cross = &a;
        QVERIFY2(cross, "linear cross attention of an observed layer records its implicit weights");
        QCOMPARE(cross->keys, 9);
        const CapacityRecord* c = capacity_of(r, 1, AttentionRole::Cross);
        QVERIFY(c);
        for (int h = 0; h < cross->heads; ++h) {
            double sum = 0;
            for (int k = 0; k < cross->keys; ++k) {
                const float w = cross->weights[size_t(h) * cross->keys + k];
                if (k >= valid) QCOMPARE(w, 0.0f);  // masked memory elements get nothing
                sum += w;
            }
            const double d = c->denominator[size_t(h)];
            QVERIFY(std::abs(sum - d / (d + spec.config.eps)) < 1e-5);
        }
    }

    void heatmap_shows_linear_weights() {
        MainWindow window(small_spec("linear", InputKind::Random));
        QVERIFY(wait_idle(*window.controller()));
        window.plotPanel()->attention()->select(AttentionRole::Self, 1, 1);
        QCOMPARE(window.plotPanel()->observation().layers, std::vector<int>{1});
        QVERIFY(window.plotPanel()->observation().attention);
        QTRY_VERIFY(!window.controller()->busy());
        window.controller()->step(5);
        QVERIFY(wait_idle(*window.controller()));
        window.plotPanel()->refreshNow();
        QCOMPARE(window.plotPanel()->attention()->rowsShown(), 5);

        // The spectrum is looked at only while its view is shown.
        PlotPanel* plots = window.plotPanel();
        QVERIFY(!plots->observation().spectrum);
        plots->spectrum()->select(AttentionRole::Self, 0);
        plots->showView(plots->spectrum());
        QCOMPARE(plots->observation().layers, (std::vector<int>{1, 0}));
        QVERIFY(plots->observation().spectrum);
        plots->showView(plots->performance());
        QCOMPARE(plots->observation().layers, std::vector<int>{1});

        // Softmax weights come with every step: nothing to observe for the heatmap.
        MainWindow full(small_spec("full", InputKind::Random));
        QVERIFY(wait_idle(*full.controller()));
        QVERIFY(full.plotPanel()->observation().layers.empty());
    }

    // The delta-rule family in the window: its signed implicit map is recorded and drawn on a centred scale,
    // and beta, alpha and the prediction error reach the state plot and the traces CSV, for kinds that report them.
    void delta_rule_kinds_show_their_updates() {
        for (const char* kind : {"gated-delta", "delta", "gated-linear", "linear"}) {
            const AttentionCapabilities& declared = attention_capabilities(kind);
            MainWindow window(small_spec(kind, InputKind::Random));
            QVERIFY(wait_idle(*window.controller()));
            PlotPanel* plots = window.plotPanel();
            plots->attention()->select(AttentionRole::Self, 1, 0);
            QTRY_VERIFY(!window.controller()->busy());
            window.controller()->step(12);
            QVERIFY(wait_idle(*window.controller()));
            plots->refreshNow();
            QCOMPARE(plots->attention()->rowsShown(), 12);
            const StepRecord& last = window.controller()->traces().records().back();
            const AttentionRows* rows = linear_rows(last, 1);
            QVERIFY2(rows, kind);
            QCOMPARE(rows->is_signed, declared.signed_map);
            // (L, 3, H) per record: beta in (0, 1) per head, alpha where the kind gates, errors >= 0.
            const int heads = 2, layers = 2;
            QCOMPARE(last.updates.size(),
                     declared.write_strength || declared.forget_gate ? size_t(layers * 3 * heads) : size_t(0));
            for (int h = 0; h < heads && !last.updates.empty(); ++h) {
                const float beta = last.updates[size_t((1 * 3 + 0) * heads + h)];
                const float alpha = last.updates[size_t((1 * 3 + 1) * heads + h)];
                const float error = last.updates[size_t((1 * 3 + 2) * heads + h)];
                QCOMPARE(std::isnan(beta), !declared.write_strength);
                QCOMPARE(std::isnan(alpha), !declared.forget_gate);
                QCOMPARE(std::isnan(error), !declared.prediction_error);
                if (declared.write_strength) QVERIFY(beta > 0 && beta < 1);
                if (declared.forget_gate) QVERIFY(alpha > 0 && alpha < 1);
                if (declared.prediction_error) QVERIFY(error >= 0);
            }
            // The state plot draws beta per head, or says which kinds report it.
            plots->states()->select(AttentionRole::Self, 1, StatePlot::Quantity::WriteStrength);
            plots->refreshNow();
            QCOMPARE(plots->states()->plot()->graphCount() > 0 && plots->states()->plot()->graph(0)->dataCount() > 0,
                     declared.write_strength);
            // The traces CSV names the columns of the kinds that have them.
            QTemporaryDir dir;
            const QString path = dir.path() + "/traces.csv";
            write_traces_csv(path, window.controller()->traces());
            QFile file(path);
            QVERIFY(file.open(QIODevice::ReadOnly));
            const QString header = QString::fromUtf8(file.readLine());
            QCOMPARE(header.contains("L1_self_beta_h0"), !last.updates.empty());
            QCOMPARE(header.contains("L1_self_prediction_error_h1"), !last.updates.empty());
            const QStringList row = QString::fromUtf8(file.readLine()).trimmed().split(',');
            QCOMPARE(row.size(), header.trimmed().split(',').size());
        }
    }

    void scripted_interventions_parse() {
        const GuiOptions options = parse_gui_arguments({"--steps", "5", "--scrub", "2", "--intervene", "scale:1:0:0.25",
                                                        "--view", "divergence", "--attention", "cross:0:1"});
        QCOMPARE(int(options.actions.size()), 5);
        const Intervention& i = options.actions[2].intervention;
        QCOMPARE(i.kind, InterventionKind::ScaleHead);
        QCOMPARE(i.layer, 1);
        QCOMPARE(i.factor, 0.25);
        for (const char* bad : {"ablate:1", "melt:0", "input:0:x:1", "clear:-1"}) {
            try {
                parse_gui_arguments({"--intervene", bad});
                QFAIL(bad);
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains("--intervene"), e.what());
            }
        }
    }

    void capacity_records_spectra_and_entropy() {
        SessionController run;
        run.open(small_spec("linear", InputKind::Random));
        run.setObservation(observe(0, false, true));
        QVERIFY(wait_idle(run));
        run.step(4);
        QVERIFY(wait_idle(run));
        const CapacityRecord* c = capacity_of(run.traces().records().back(), 0, AttentionRole::Self);
        QVERIFY(c && c->rank > 0);
        QCOMPARE(c->rank, 8);
        QCOMPARE(int(c->singular_values.size()), c->heads * c->rank);
        for (int h = 0; h < c->heads; ++h) {
            const float* sigma = c->singular_values.data() + size_t(h) * c->rank;
            QVERIFY(std::is_sorted(sigma, sigma + c->rank, std::greater<float>()));
            QCOMPARE(c->effective_rank[size_t(h)], effective_rank(sigma, c->rank));
            // Four steps sum four rank-one terms: at most four directions.
            QVERIFY(c->effective_rank[size_t(h)] > 1 && c->effective_rank[size_t(h)] <= 4.0f + 1e-3f);
        }

        SessionController full;
        full.open(small_spec("full", InputKind::Random));
        full.setObservation(observe(1, true, false));
        QVERIFY(wait_idle(full));
        full.step(3);
        QVERIFY(wait_idle(full));
        for (const StepRecord& r : full.traces().records()) {
            const CapacityRecord* s = capacity_of(r, 1, AttentionRole::Self);
            QVERIFY(s && s->rank == 0 && !s->row_entropy.empty());
            QCOMPARE(int64_t(s->cache_length), r.step);
            // A first step attends only to itself: entropy 0; later rows spread.
            if (r.step == 1) QCOMPARE(s->row_entropy[0], 0.0f);
            else QVERIFY(s->row_entropy[0] > 0 && s->row_entropy[0] <= std::log(float(r.step)) + 1e-5f);
        }
    }

    // Every element's norms are recorded, but the engine looks inside one: what it sees belongs to that
    // element's slice alone, and showing another element looks inside that one from the next step on.
    void looking_inside_follows_the_shown_element() {
        SessionSpec spec = small_spec("linear", InputKind::Random);
        spec.observed = 1;
        spec.interventions = {ablate(1, 0)};
        auto session = Session::open(spec);
        session->set_observation(observe(0, true, true));
        const BatchRecord first = session->advance();
        QCOMPARE(first.observed, 1);
        const StepRecord shown = first.element(1), other = first.element(2);
        QVERIFY(capacity_of(shown, 0, AttentionRole::Self));
        QVERIFY(linear_rows(shown, 0));
        QCOMPARE(int(shown.divergence.size()), spec.config.n_layers + 1);
        QVERIFY(!capacity_of(other, 0, AttentionRole::Self));
        QVERIFY(!linear_rows(other, 0));
        QVERIFY(other.divergence.empty());
        QVERIFY(!other.layers[0].self.first.empty());  // the norms of every element stay

        session->set_observed(2);
        const BatchRecord second = session->advance();
        QCOMPARE(second.observed, 2);
        // element() returns a copy: keep it while pointers into it are read.
        const StepRecord branch = second.element(2);
        const CapacityRecord* c = capacity_of(branch, 0, AttentionRole::Self);
        QVERIFY(c && c->rank > 0);
        QVERIFY(linear_rows(branch, 0));
        QVERIFY(!capacity_of(second.element(1), 0, AttentionRole::Self));
        // Ablating a head of the last layer leaves the first as it was and changes the output.
        QCOMPARE(branch.divergence[0], 0.0f);
        QVERIFY(branch.divergence.back() > 0);
    }

    void ablation_branch_diverges_from_origin() {
        SessionController run;
        const SessionSpec spec = small_spec("linear", InputKind::Random);
        run.open(spec);
        QVERIFY(wait_idle(run));
        run.step(6);
        QVERIFY(wait_idle(run));
        const std::vector<StepRecord> original = run.traces().records();
        run.setViewStep(3);
        run.intervene(ablate(1, 0), false);
        QVERIFY(wait_idle(run));
        QCOMPARE(run.lastStep(), int64_t(6));
        QCOMPARE(int(run.spec().interventions.size()), 1);
        QCOMPARE(run.spec().interventions[0].step, int64_t(3));
        const auto& records = run.traces().records();
        for (int t = 0; t < 3; ++t) QCOMPARE(records[size_t(t)].output, original[size_t(t)].output);
        for (int t = 3; t < 6; ++t) {
            const std::vector<float>& d = records[size_t(t)].divergence;
            QCOMPARE(int(d.size()), 3);  // two layers and the output
            QCOMPARE(d[0], 0.0f);        // layer 0 is upstream of the ablated head
            QVERIFY(d[1] > 1e-4f && d[2] > 1e-4f);
        }
        QCOMPARE(first_divergence(run.traces()), std::optional<int64_t>(4));

        // The engine with the same Ablation, stepped directly, gives the branch's outputs.
        const auto model = run.traces().info().model;
        Ablation ablation;
        ablation.heads.push_back({1, 0, 3, AttentionRole::Self});
        State state = model->new_state(spec.sequence_seed);
        InputSource source(spec, model->config());
        RowMatrix x, y, previous;
        for (int t = 0; t < 6; ++t) {
            source.input(t, previous, x);
            model->step(x, state, y, StepOptions{nullptr, nullptr, &ablation});
            previous = y;
            const auto row = y.row(spec.observed);
            QCOMPARE(records[size_t(t)].output, std::vector<float>(row.data(), row.data() + row.size()));
        }
    }

    void session_reproduces_intervention() {
        SessionController run;
        run.open(small_spec("linear", InputKind::Feedback));
        QVERIFY(wait_idle(run));
        run.step(5);
        QVERIFY(wait_idle(run));
        run.setViewStep(2);
        Intervention zero;
        zero.kind = InterventionKind::ScaleHead;
        zero.layer = 0;
        zero.head = 1;
        zero.factor = 0;
        run.intervene(zero, false);
        QVERIFY(wait_idle(run));
        run.intervene(ablate(1, 1), true);
        QVERIFY(wait_idle(run));
        QCOMPARE(int(run.spec().interventions.size()), 2);

        const SessionSpec saved = session_from_json(session_to_json(run.spec()));
        QVERIFY(saved.interventions == run.spec().interventions);
        SessionController again;
        again.open(saved);
        QVERIFY(wait_idle(again));
        QCOMPARE(again.traces().size(), run.traces().size());
        for (int t = 0; t < run.traces().size(); ++t) {
            QCOMPARE(again.traces().records()[size_t(t)].output, run.traces().records()[size_t(t)].output);
            QCOMPARE(again.traces().records()[size_t(t)].divergence, run.traces().records()[size_t(t)].divergence);
        }
        // Ablated for the whole run: the branch differs from the first step.
        QCOMPARE(first_divergence(again.traces()), std::optional<int64_t>(1));
    }

    // Offered where the kind keeps a cache; the branch diverges after the edit and a session reproduces it.
    void clearing_a_softmax_head_branches_the_run() {
        SessionController linear;
        linear.open(small_spec("linear", InputKind::Feedback));
        QVERIFY(wait_idle(linear));
        IntervenePanel panel;
        const auto offered = [&panel] {
            for (const QComboBox* box : panel.findChildren<QComboBox*>())
                if (box->count() > int(IntervenePanel::Action::ClearHeadCache))
                    return qobject_cast<const QStandardItemModel*>(box->model())
                        ->item(int(IntervenePanel::Action::ClearHeadCache))
                        ->isEnabled();
            return false;
        };
        panel.setRun(linear.traces(), 0, {});
        QVERIFY(!offered());

        SessionController run;
        run.open(small_spec("full", InputKind::Feedback));
        QVERIFY(wait_idle(run));
        run.step(5);
        QVERIFY(wait_idle(run));
        panel.setRun(run.traces(), 2, {});
        QVERIFY(offered());
        panel.choose(IntervenePanel::Action::ClearHeadCache, 1, 1);
        const Intervention clear = panel.intervention();
        QCOMPARE(clear.kind, InterventionKind::ClearHeadCache);
        run.setViewStep(2);
        run.intervene(clear, false);
        QVERIFY(wait_idle(run));
        QCOMPARE(first_divergence(run.traces()), std::optional<int64_t>(3));

        const SessionSpec saved = session_from_json(session_to_json(run.spec()));
        QVERIFY(saved.interventions == run.spec().interventions);
        SessionController again;
        again.open(saved);
        QVERIFY(wait_idle(again));
        for (int t = 0; t < run.traces().size(); ++t)
            QCOMPARE(again.traces().records()[size_t(t)].output, run.traces().records()[size_t(t)].output);
        QCOMPARE(parse_gui_arguments({"--intervene", "clear-head:1:1"}).actions[0].intervention, clear);
    }

    void copying_every_layer_rejoins_the_original() {
        SessionController run;
        run.open(small_spec("linear", InputKind::Random));
        QVERIFY(wait_idle(run));
        run.step(8);
        QVERIFY(wait_idle(run));
        Intervention input;
        input.kind = InterventionKind::EditInput;
        input.element = 1;
        input.index = 0;
        input.value = 5.0;
        run.setViewStep(3);
        run.intervene(input, false);
        QVERIFY(wait_idle(run));
        for (int layer = 0; layer < 2; ++layer) {
            Intervention copy;
            copy.kind = InterventionKind::CopyFromOriginal;
            copy.layer = layer;
            run.setViewStep(5);
            run.intervene(copy, false);
            QVERIFY(wait_idle(run));
        }
        const auto& records = run.traces().records();
        QCOMPARE(first_divergence(run.traces()), std::optional<int64_t>(4));
        QVERIFY(records[4].divergence.back() > 1e-4f);  // step 5: the edited input still in the state
        // Random inputs do not depend on the run: with every layer's state copied back, so is the output.
        for (int t = 5; t < 8; ++t) QCOMPARE(records[size_t(t)].divergence.back(), 0.0f);
    }

    void fork_marks_first_divergence_on_the_plots() {
        MainWindow window(small_spec("linear", InputKind::Feedback));
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->step(8);
        QVERIFY(wait_idle(*window.controller()));
        window.controller()->setViewStep(5);
        IntervenePanel* panel = window.intervenePanel();
        panel->choose(IntervenePanel::Action::EditInput, 0, 0, 2.5, 1, 3);
        panel->apply();
        QVERIFY(wait_idle(*window.controller()));
        QCOMPARE(window.controller()->lastStep(), int64_t(8));
        // The original stays in the tree and on the plots; the fork diverges at the step that consumed the edited
        // input.
        QCOMPARE(window.controller()->runs().size(), 2);
        QCOMPARE(int(window.plotPanel()->overlays().size()), 1);
        QCOMPARE(window.plotPanel()->divergenceMark(), std::optional<int64_t>(6));
        window.plotPanel()->refreshNow();
        QVERIFY(!window.plotPanel()->divergence()->currentGraphs().empty());
        QVERIFY(!window.plotPanel()->divergence()->currentGraphs().back()->data()->isEmpty());
        QVERIFY(window.errorText().isEmpty());
    }

    void bad_interventions_are_refused() {
        SessionController run;
        run.open(small_spec("full", InputKind::Random));
        QVERIFY(wait_idle(run));
        run.step(3);
        QVERIFY(wait_idle(run));
        QSignalSpy failed(&run, &SessionController::failed);
        Intervention scale;
        scale.kind = InterventionKind::ScaleHead;
        run.intervene(scale, false);  // softmax attention has no S and Z
        QVERIFY(wait_idle(run));
        run.intervene(ablate(0, 7), false);  // two heads only
        QVERIFY(wait_idle(run));
        QCOMPARE(failed.count(), 2);
        QVERIFY(failed[0][1].toString().contains("no S and Z"));
        QVERIFY(failed[1][1].toString().contains("head 7"));
        QCOMPARE(run.lastStep(), int64_t(3));
        QVERIFY(run.spec().interventions.empty());
    }

    void strict_intervention_json_data() {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("named");
        QTest::newRow("not an array") << R"({"config": {}, "interventions": 3})"
                                      << "'interventions'";
        QTest::newRow("unknown kind") << R"({"config": {}, "interventions": [{"kind": "melt", "step": 0}]})"
                                      << "interventions[0].kind";
        QTest::newRow("missing head")
            << R"({"config": {}, "interventions": [{"kind": "ablate-head", "step": 0, "layer": 0}]})"
            << "interventions[0].head";
        QTest::newRow("key of another kind")
            << R"({"config": {}, "interventions": [{"kind": "clear-layer", "step": 0, "layer": 0, "value": 1}]})"
            << "interventions[0].value";
        QTest::newRow("negative step")
            << R"({"config": {}, "interventions": [{"kind": "clear-layer", "step": -1, "layer": 0}]})"
            << "interventions[0].step";
    }

    void strict_intervention_json() {
        QFETCH(QString, json);
        QFETCH(QString, named);
        try {
            session_from_json(QJsonDocument::fromJson(json.toUtf8()).object());
            QFAIL("accepted");
        } catch (const Error& e) {
            QVERIFY2(QString::fromStdString(e.what()).contains(named), e.what());
        }
    }
};

QTEST_MAIN(InsightTest)
#include "test_ui_insight.moc"
