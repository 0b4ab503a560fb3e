// Views on demand: what was not observed while stepping is computed after the fact, and equals a live observation.
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QtTest>

#include <algorithm>
#include <functional>

#include "intervene_panel.h"
#include "main_window.h"
#include "model_panel.h"
#include "gui_script.h"
#include "plots/output_plot.h"
#include "plots/view_list.h"
#include "plots/attention_plot.h"
#include "plots/capacity_plot.h"
#include "plots/performance_plot.h"
#include "plots/plot_export.h"
#include "plots/plot_panel.h"
#include "plots/spectrum_plot.h"
#include "plots/token_view.h"
#include "session/insight_records.h"
#include "session/view_recompute.h"
#include "stepscope/attention_kind.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

ObservationOptions observe(int layer, int element, const AttentionCapabilities& kind) {
    ObservationOptions what;
    what.layers = {layer};
    what.attention = kind.attention_map;
    what.spectrum = kind.spectrum;
    what.batch_element = element;
    what.attention_keys = kAttentionWindow;
    return what;
}

const AttentionRows* rows_of(const StepRecord& r, int layer) {
    for (const AttentionRows& a : r.attention)
        if (a.layer == layer && a.role == AttentionRole::Self) return &a;
    return nullptr;
}

// Every weight both rows hold for the keys from `first_key` on, head by head: equal to the bit.
void compare_rows(const AttentionRows& live, const AttentionRows& again, int first_key, int64_t step) {
    QCOMPARE(again.heads, live.heads);
    QCOMPARE(again.is_signed, live.is_signed);
    const int from = std::max({first_key, live.first_key, again.first_key});
    const int to = std::min(live.first_key + live.keys, again.first_key + again.keys);
    QVERIFY2(to > from, qPrintable(QStringLiteral("step %1: no keys in common").arg(step)));
    for (int h = 0; h < live.heads; ++h)
        for (int k = from; k < to; ++k) {
            const float a = live.weights[size_t(h) * live.keys + size_t(k - live.first_key)];
            const float b = again.weights[size_t(h) * again.keys + size_t(k - again.first_key)];
            if (a != b && !(std::isnan(a) && std::isnan(b)))
                QFAIL(qPrintable(QStringLiteral("step %1 head %2 key %3: live %4, recomputed %5")
                                     .arg(step)
                                     .arg(h)
                                     .arg(k)
                                     .arg(double(a), 0, 'g', 9)
                                     .arg(double(b), 0, 'g', 9)));
        }
}

void compare_capacity(const CapacityRecord& live, const CapacityRecord& again, int64_t step) {
    const QString where = QStringLiteral("step %1").arg(step);
    QVERIFY2(again.singular_values == live.singular_values, qPrintable(where + ": singular values"));
    QVERIFY2(again.effective_rank == live.effective_rank, qPrintable(where + ": effective rank"));
    QVERIFY2(again.denominator == live.denominator, qPrintable(where + ": denominator"));
    QVERIFY2(again.min_denominator == live.min_denominator, qPrintable(where + ": min denominator"));
    QVERIFY2(again.row_entropy == live.row_entropy, qPrintable(where + ": row entropy"));
    QCOMPARE(again.cache_length, live.cache_length);
}

// A run of `spec` observing `what` from its first step, `steps` records of every element.
std::vector<BatchRecord> stepped(Session& session, const ObservationOptions& what, int steps) {
    session.set_observation(what);
    std::vector<BatchRecord> out;
    for (int t = 0; t < steps; ++t) out.push_back(session.advance());
    return out;
}

// A view of the panel set up to show layer 1 (head 1) of a run: what the window tests ask after the fact.
struct ViewCase {
    QString name;
    std::function<bool(const TraceStore&)> applies;
    std::function<void(PlotPanel*)> show;
    std::function<QString(PlotPanel*)> data;
};

std::vector<ViewCase> view_cases() {
    auto spectrum = [](const TraceStore& t) { return t.kind(AttentionRole::Self).spectrum; };
    return {
        {"heatmap", [](const TraceStore& t) { return t.kind(AttentionRole::Self).attention_map; },
         [](PlotPanel* p) {
             p->attention()->select(AttentionRole::Self, 1, 1);
             p->showView(p->performance());
         },
         [](PlotPanel* p) { return p->attention()->csv(); }},
        {"spectrum", spectrum,
         [](PlotPanel* p) {
             p->spectrum()->select(AttentionRole::Self, 1);
             p->showView(p->spectrum());
         },
         [](PlotPanel* p) { return p->spectrum()->csv(); }},
        {"capacity: effective rank", spectrum,
         [](PlotPanel* p) {
             p->capacity()->select(AttentionRole::Self, 1, CapacityPlot::Quantity::EffectiveRank);
             p->showView(p->capacity());
         },
         [](PlotPanel* p) { return p->capacity()->csv(); }},
        {"capacity: denominator", [](const TraceStore& t) { return t.kind(AttentionRole::Self).normalizer; },
         [](PlotPanel* p) {
             p->capacity()->select(AttentionRole::Self, 1, CapacityPlot::Quantity::Denominator);
             p->showView(p->capacity());
         },
         [](PlotPanel* p) { return p->capacity()->csv(); }},
        {"capacity: row entropy", [](const TraceStore& t) { return t.kind(AttentionRole::Self).cache_entropy; },
         [](PlotPanel* p) {
             p->capacity()->select(AttentionRole::Self, 1, CapacityPlot::Quantity::RowEntropy);
             p->showView(p->capacity());
         },
         [](PlotPanel* p) { return p->capacity()->csv(); }},
    };
}

// Waits for the steps and any view being computed to end, then draws everything.
bool settle(MainWindow& window) {
    const bool done = QTest::qWaitFor(
        [&] {
            window.plotPanel()->refreshNow();
            return !window.controller()->busy() && !window.controller()->recomputing();
        },
        120000);
    window.plotPanel()->refreshNow();
    return done;
}

// The shipped linear recall model on three sequences of four pairs (seed 3), element `observed` shown.
SessionSpec recall_spec(int observed) {
    SessionSpec spec;
    spec.weights_path = QStringLiteral(STEPSCOPE_MODELS_DIR "/recall_linear.safetensors");
    spec.config = TokenModel::load(spec.weights_path.toStdString())->transformer().config();
    spec.input.kind = InputKind::Tokens;
    spec.input.seed = 3;
    spec.input.pairs = 4;
    spec.batch = 3;
    spec.observed = observed;
    return spec;
}

// The kinds of the registry an encoder's self attention takes.
std::vector<std::string> self_kinds() {
    std::vector<std::string> out;
    for (const std::string& name : attention_kind_names()) {
        try {
            SessionSpec spec = small_spec(name);
            Session::open(spec);
            out.push_back(name);
        } catch (const Error&) {
        }
    }
    return out;
}

}  // namespace

class ViewsOnDemandTest : public QObject {
    Q_OBJECT

private slots:
    void registry_kinds_are_all_here() {
        // The loops below cover every kind an encoder takes; at least those the issue names.
        const auto kinds = self_kinds();
        for (const char* named : {"linear", "full", "delta", "gated-delta", "gated-linear"})
            QVERIFY2(std::find(kinds.begin(), kinds.end(), named) != kinds.end(), named);
    }

    // The engine-level promise: a run stepped observing layer 0 of element 0 recomputes layer 1 of element 2
    // over the heatmap's window, and gets what a run observing layer 1 of element 2 recorded live, to the bit.
    // With inputs known (blocks replay the unobserved prefix) and fed back with interventions (one at a time).
    void recomputed_equals_live_for_every_kind() {
        for (const std::string& name : self_kinds()) {
            const AttentionCapabilities& kind = attention_capabilities(name);
            for (const InputKind input : {InputKind::Random, InputKind::Feedback}) {
                SessionSpec spec = small_spec(name, input);
                if (input == InputKind::Feedback) {
                    // A branch: a head ablated for the whole run, and where the kind can, a state edited on the way.
                    Intervention ablation;
                    ablation.kind = InterventionKind::AblateHead;
                    ablation.layer = 1;
                    ablation.head = 0;
                    spec.interventions = {ablation};
                    if (kind.scale_head) {
                        Intervention scale;
                        scale.kind = InterventionKind::ScaleHead;
                        scale.layer = 1;
                        scale.head = 1;
                        scale.factor = 0.5;
                        scale.step = 100;
                        spec.interventions.push_back(scale);
                    }
                }
                const int steps = 300;  // past the heatmap's 256-step window
                auto as_stepped = Session::open(spec);
                stepped(*as_stepped, observe(0, 0, kind), steps);
                auto live = Session::open(spec);
                live->set_observed(2);
                const std::vector<BatchRecord> truth = stepped(*live, observe(1, 2, kind), steps);

                ViewRequest request;
                request.element = 2;
                request.layer = 1;
                request.first = steps - kAttentionWindow + 1;
                request.last = steps;
                request.attention = true;
                request.spectrum = kind.spectrum;
                int64_t reported = 0;
                const auto again =
                    recompute_views(*as_stepped, request, [&](int64_t done, int64_t) { reported = done; }, {});
                QCOMPARE(int(again.size()), int(request.steps()));
                QVERIFY(reported >= request.steps());
                for (const BatchRecord& r : again) {
                    const BatchRecord& t = truth[size_t(r.step - 1)];
                    QCOMPARE(r.step, t.step);
                    QCOMPARE(r.observed, 2);
                    const StepRecord got = r.element(2), want = t.element(2);
                    const AttentionRows* a = rows_of(want, 1);
                    const AttentionRows* b = rows_of(got, 1);
                    QVERIFY2(a && b, name.c_str());
                    compare_rows(*a, *b, int(request.first - 1), r.step);
                    if (QTest::currentTestFailed()) return;
                    const CapacityRecord* c = capacity_of(want, 1, AttentionRole::Self);
                    const CapacityRecord* d = capacity_of(got, 1, AttentionRole::Self);
                    QVERIFY2(c, (name + ": live").c_str());
                    QVERIFY2(d, (name + ": recomputed").c_str());
                    compare_capacity(*c, *d, r.step);
                    if (QTest::currentTestFailed()) return;
                    // Only what was asked: layer 0 was not.
                    QVERIFY(!rows_of(got, 0) && !capacity_of(got, 0, AttentionRole::Self));
                }
            }
        }
    }

    // A decoder's cross attention, of each kind that may be one, recomputed after the fact equals its live observation.
    void cross_attention_recomputed_equals_live() {
        for (const std::string& name : attention_kind_names()) {
            const AttentionCapabilities& kind = attention_capabilities(name);
            if (!kind.cross) continue;
            SessionSpec spec = small_spec("linear", InputKind::Random);
            spec.config.kind = ModelKind::Decoder;
            spec.config.self_attention_type = "causal-linear";
            spec.config.cross_attention_type = name;
            spec.memory.length = 9;
            const int steps = 30;
            auto as_stepped = Session::open(spec);
            stepped(*as_stepped, observe(0, 0, kind), steps);
            auto live = Session::open(spec);
            live->set_observed(2);
            ObservationOptions what = observe(1, 2, kind);
            what.attention = true;
            const auto truth = stepped(*live, what, steps);
            ViewRequest request;
            request.element = 2;
            request.layer = 1;
            request.role = AttentionRole::Cross;
            request.first = 10;
            request.last = steps;
            request.attention = true;
            request.spectrum = kind.spectrum;
            const auto again = recompute_views(*as_stepped, request, {}, {});
            QCOMPARE(int(again.size()), steps - 9);
            for (const BatchRecord& r : again) {
                const StepRecord got = r.element(2), want = truth[size_t(r.step - 1)].element(2);
                auto cross = [](const StepRecord& s) -> const AttentionRows* {
                    for (const AttentionRows& a : s.attention)
                        if (a.layer == 1 && a.role == AttentionRole::Cross) return &a;
                    return nullptr;
                };
                QVERIFY2(cross(want) && cross(got), name.c_str());
                QVERIFY2(cross(got)->weights == cross(want)->weights, name.c_str());
                QVERIFY(!capacity_of(got, 1, AttentionRole::Self));  // only the role asked for
                const CapacityRecord* c = capacity_of(want, 1, AttentionRole::Cross);
                const CapacityRecord* d = capacity_of(got, 1, AttentionRole::Cross);
                QVERIFY2(c && d, name.c_str());
                compare_capacity(*c, *d, r.step);
                if (QTest::currentTestFailed()) return;
            }
        }
    }

    // The window: every view, for each kind, shown after the fact for a layer, head and element not on screen
    // while stepping, draws what a second window that showed them while stepping drew. The first window steps
    // 300 steps and goes back to step 30, past the heatmap's window of recorded rows (so softmax rows too are
    // computed again); the second steps 30 with the view shown. Time plots compare their first 30 steps.
    void every_view_after_the_fact_equals_live() {
        const int steps = 300, viewed = 30;
        for (const std::string& name : self_kinds()) {
            for (const ViewCase& view : view_cases()) {
                const QString what = QString::fromStdString(name) + ": " + view.name;
                SessionSpec spec = small_spec(name);
                spec.batch = 3;
                spec.observed = 1;
                MainWindow after(spec);
                QVERIFY(settle(after));
                if (!view.applies(after.controller()->traces())) continue;
                // Stepped showing layer 0, head 0 of element 1 and the speed tab.
                after.controller()->step(steps);
                QVERIFY(settle(after));
                QSignalSpy started(after.controller(), &SessionController::viewsStarted);
                // Then an earlier step, element 2 and the view's layer 1, head 1.
                after.controller()->setViewStep(viewed);
                after.controller()->setObserved(2);
                view.show(after.plotPanel());
                QVERIFY(settle(after));
                QVERIFY2(!started.isEmpty(), qPrintable(what + ": nothing was computed"));
                const QStringList got = view.data(after.plotPanel()).split('\n');

                spec.observed = 2;
                MainWindow live(spec);
                QVERIFY(settle(live));
                view.show(live.plotPanel());
                QVERIFY(settle(live));
                QSignalSpy live_started(live.controller(), &SessionController::viewsStarted);
                live.controller()->step(viewed);
                QVERIFY(settle(live));
                QVERIFY2(live_started.isEmpty(), qPrintable(what + ": the live window computed after the fact"));
                const QStringList want = view.data(live.plotPanel()).split('\n');
                QVERIFY2(want.size() > 2, qPrintable(what + ": nothing shown live"));
                QVERIFY2(got.size() >= want.size(),
                         qPrintable(what + QStringLiteral(": after the fact shows less: %1 lines, live %2; %3")
                                               .arg(got.size())
                                               .arg(want.size())
                                               .arg(got.join("|").left(300))));
                for (int i = 0; i < want.size(); ++i)
                    QVERIFY2(got[i] == want[i] || (i == want.size() - 1 && want[i].isEmpty()),
                             qPrintable(what + QStringLiteral(": line %1 differs: '%2' after the fact, '%3' live")
                                                   .arg(i)
                                                   .arg(got[i].left(120), want[i].left(120))));
                QVERIFY(!after.plotPanel()->recomputeShown());
            }
        }
    }

    // Switching the shown element keeps the heatmap of past steps: its implicit rows are computed for the new one.
    void switching_the_element_keeps_the_heatmap() {
        for (const char* name : {"linear", "delta"}) {
            SessionSpec spec = small_spec(name);
            MainWindow window(spec);
            QVERIFY(settle(window));
            window.controller()->step(48);
            QVERIFY(settle(window));
            QCOMPARE(window.plotPanel()->attention()->rowsShown(), 48);
            window.controller()->setObserved(0);
            QVERIFY(settle(window));
            QCOMPARE(window.plotPanel()->attention()->rowsShown(), 48);
            QVERIFY(window.plotPanel()->attention()->shownNote().isEmpty());
            QVERIFY(!window.plotPanel()->attention()->noteText().contains("Step on"));
        }
    }

    // The heatmap's look inside keeps no capacity records, which only the Capacity tab reads: a long run keeps
    // none of them until the tab shows, which then computes them for every step, and keeps them coming.
    void capacity_is_kept_only_for_its_tab() {
        for (const char* name : {"linear", "full"}) {
            MainWindow window(small_spec(name));
            QVERIFY(settle(window));
            window.controller()->step(20);
            QVERIFY(settle(window));
            const TraceStore& traces = window.controller()->traces();
            QVERIFY(window.plotPanel()->attention()->rowsShown() > 0);
            for (const StepRecord& r : traces.records()) QVERIFY2(r.capacity.empty(), name);
            window.plotPanel()->capacity()->select(AttentionRole::Self, 0, CapacityPlot::Quantity::Denominator);
            window.plotPanel()->showView(window.plotPanel()->capacity());
            QVERIFY(settle(window));
            window.controller()->step(5);
            QVERIFY(settle(window));
            QCOMPARE(int(traces.records().size()), 25);
            for (const StepRecord& r : traces.records())
                QVERIFY2(capacity_of(r, 0, AttentionRole::Self), qPrintable(QString::number(r.step)));
        }
    }

    // A recomputation is refused in one line, before it allocates, when it would pass the memory limit.
    void recomputation_over_the_limit_is_refused() {
        auto session = Session::open(small_spec("linear"));
        for (int t = 0; t < 20; ++t) session->advance();
        ViewRequest request;
        request.layer = 1;
        request.first = 1;
        request.last = 20;
        request.attention = true;
        request.what = "implicit weights";
        qputenv("STEPSCOPE_MAX_MEMORY", "16M");
        QString message;
        try {
            recompute_views(*session, request, {}, {});
        } catch (const Error& e) {
            message = e.what();
        }
        qunsetenv("STEPSCOPE_MAX_MEMORY");
        QVERIFY2(message.contains("refused") && message.contains("implicit weights of layer 1"), qPrintable(message));
        QVERIFY(!message.contains('\n'));
        QCOMPARE(int(recompute_views(*session, request, {}, {}).size()), 20);
    }

    // Recall read-back after the fact equals the one read while the Tokens tab was shown.
    void read_back_after_the_fact_equals_live() {
        const SessionSpec spec = recall_spec(1);
        auto as_stepped = Session::open(spec);
        ObservationOptions none;
        stepped(*as_stepped, none, 8);
        auto live = Session::open(spec);
        live->set_observed(2);
        ObservationOptions read;
        read.read_back = true;
        const auto truth = stepped(*live, read, 8);
        ViewRequest request;
        request.element = 2;
        request.first = 1;
        request.last = 8;
        request.read_back = true;
        const auto again = recompute_views(*as_stepped, request, {}, {});
        QCOMPARE(int(again.size()), 8);
        int compared = 0;
        for (const BatchRecord& r : again) {
            const auto& want = truth[size_t(r.step - 1)].retrieval;
            QCOMPARE(r.retrieval.size(), want.size());
            for (size_t i = 0; i < want.size(); ++i, ++compared) {
                QCOMPARE(r.retrieval[i].key, want[i].key);
                QCOMPARE(r.retrieval[i].value, want[i].value);
                QCOMPARE(r.retrieval[i].probability, want[i].probability);
                QCOMPARE(r.retrieval[i].correct, want[i].correct);
            }
        }
        QVERIFY(compared > 0);
    }

    // In the window: the Tokens tab shown after stepping reads the viewed step's pairs back, as a live read did.
    void tokens_tab_reads_back_after_the_fact() {
        const SessionSpec spec = recall_spec(2);
        MainWindow window(spec);
        QVERIFY(settle(window));
        window.plotPanel()->showView(window.plotPanel()->performance());
        window.controller()->step(8);
        QVERIFY(settle(window));
        window.controller()->setViewStep(6);
        QVERIFY(window.controller()->traces().at_step(6)->retrieval.empty());
        window.plotPanel()->showView(window.plotPanel()->tokens());
        QVERIFY(settle(window));
        const auto got = window.controller()->traces().at_step(6)->retrieval;
        auto live = Session::open(spec);
        ObservationOptions read;
        read.read_back = true;
        const auto truth = stepped(*live, read, 6);
        const auto& want = truth.back().retrieval;
        QVERIFY(!want.empty());
        QCOMPARE(got.size(), want.size());
        for (size_t i = 0; i < want.size(); ++i) QCOMPARE(got[i].probability, want[i].probability);
    }

    // In the run tree: a branch the engine holds reads back from its own history, its steps up to the branch step
    // into the parent's records (they are the parent's, shared); a run the engine does not hold is made live first
    // and reads back as a live run did, and the branch then steps on as a fresh session would.
    void views_recompute_the_live_branch_and_any_other_run() {
        const SessionSpec spec = recall_spec(2);
        MainWindow window(spec);
        QVERIFY(settle(window));
        SessionController* controller = window.controller();
        window.plotPanel()->showView(window.plotPanel()->performance());
        controller->step(8);
        QVERIFY(settle(window));
        const int root = controller->viewedRun();
        controller->setViewStep(4);
        controller->step(4);
        QVERIFY(settle(window));
        QVERIFY(controller->viewedRun() != root);
        auto live = Session::open(spec);
        ObservationOptions read;
        read.read_back = true;
        const auto truth = stepped(*live, read, 8);
        const TraceStore& parent = *controller->runs().find(root)->traces;
        for (const int64_t step : {int64_t(3), int64_t(6)}) {
            controller->setViewStep(step);
            QVERIFY(controller->traces().at_step(step)->retrieval.empty());
            window.plotPanel()->showView(window.plotPanel()->tokens());
            QVERIFY(settle(window));
            const auto got = controller->traces().at_step(step)->retrieval;
            const auto& want = truth[size_t(step - 1)].retrieval;
            QVERIFY(!want.empty());
            QCOMPARE(got.size(), want.size());
            for (size_t i = 0; i < want.size(); ++i) QCOMPARE(got[i].probability, want[i].probability);
            window.plotPanel()->showView(window.plotPanel()->performance());
            QVERIFY(settle(window));
        }
        QVERIFY(!parent.at_step(3)->retrieval.empty());  // shared: the parent's record gained it
        QVERIFY(parent.at_step(6)->retrieval.empty());   // the branch's own step is not the parent's
        // The root is not the run the engine holds (the branch is): it becomes the live run, stepped unrecorded to
        // where it is, and its view is computed from its own history.
        QSignalSpy failed(controller, &SessionController::viewsFailed);
        const int branch = controller->viewedRun();
        QVERIFY(controller->selectRun(root));
        controller->setViewStep(7);
        QVERIFY(parent.at_step(7)->retrieval.empty());
        window.plotPanel()->showView(window.plotPanel()->tokens());
        QVERIFY(settle(window));
        QCOMPARE(failed.size(), 0);
        const auto got = parent.at_step(7)->retrieval;  // a view of the store, not of the step's temporary record
        QCOMPARE(got.size(), truth[6].retrieval.size());
        for (size_t i = 0; i < got.size(); ++i) QCOMPARE(got[i].probability, truth[6].retrieval[i].probability);
        // Stepping the branch again rebuilds its session where it is: its steps go on as one run's would.
        window.plotPanel()->showView(window.plotPanel()->performance());
        QVERIFY(controller->selectRun(branch));
        controller->step(2);
        QVERIFY(settle(window));
        QCOMPARE(controller->lastStep(), qint64(10));
        auto fresh = Session::open(spec);
        std::vector<BatchRecord> ten;
        for (int t = 0; t < 10; ++t) ten.push_back(fresh->advance());
        for (const int64_t step : {int64_t(9), int64_t(10)})
            QVERIFY(controller->traces().at_step(step)->output == ten[size_t(step - 1)].element(2).output);
    }

    // The heatmap compared with a run of another model than the one the engine holds: that run's map, not observed
    // while it stepped, is computed after the fact and equals a live observation; the two maps and their difference
    // are drawn.
    void heatmap_of_another_model_after_the_fact_compares() {
        SessionSpec spec = small_spec("linear");
        MainWindow window(spec);
        QVERIFY(settle(window));
        SessionController* controller = window.controller();
        PlotPanel* panel = window.plotPanel();
        panel->showView(panel->performance());
        controller->step(6);
        QVERIFY(settle(window));
        const int linear = controller->viewedRun();
        QVERIFY(window.modelPanel()->setField("attention_type", "full"));
        QVERIFY(window.applyForms());
        QVERIFY(settle(window));
        controller->step(6);
        QVERIFY(settle(window));
        const int full = controller->viewedRun();
        QVERIFY(full != linear);
        // The full run viewed with the linear one shown; layer 1 was observed in neither.
        controller->setRunVisible(linear, true);
        const TraceStore& linear_traces = *controller->runs().find(linear)->traces;
        QVERIFY(!rows_of(*linear_traces.at_step(6), 1));
        panel->attention()->select(AttentionRole::Self, 1, 1);
        QVERIFY(settle(window));
        AttentionPlot* heatmap = panel->attention();
        QCOMPARE(heatmap->comparedWith(), 0);
        // Said, and computed only when asked: that run's session then replaces the viewed run's in the engine.
        QVERIFY2(heatmap->compareLine().contains("did not observe layer 1"), qPrintable(heatmap->compareLine()));
        QVERIFY(!rows_of(*linear_traces.at_step(6), 1));
        QVERIFY(heatmap->computeComparedOffered());
        heatmap->computeCompared();
        QVERIFY(settle(window));
        QVERIFY(!heatmap->computeComparedOffered());
        auto live = Session::open(spec);
        live->set_observed(spec.observed);
        const auto truth = stepped(*live, observe(1, spec.observed, attention_capabilities("linear")), 6);
        for (int64_t step = 1; step <= 6; ++step) {
            const AttentionRows* got = rows_of(*linear_traces.at_step(step), 1);
            QVERIFY2(got, qPrintable(QString("step %1").arg(step)));
            compare_rows(*rows_of(truth[size_t(step - 1)].element(spec.observed), 1), *got, 0, step);
        }
        QCOMPARE(controller->viewedRun(), full);
        QVERIFY2(heatmap->compareLine().isEmpty(), qPrintable(heatmap->compareLine()));
        QVERIFY(!heatmap->differenceCells().empty());
        const int columns = int(heatmap->differenceCells().size()) / heatmap->rowsShown();
        const TraceStore& full_traces = controller->traces();
        for (int q = 0; q < heatmap->rowsShown(); ++q) {
            const AttentionRows* a = rows_of(*full_traces.at_step(q + 1), 1);
            const AttentionRows* b = rows_of(*linear_traces.at_step(q + 1), 1);
            for (int k = 0; k <= q; ++k) {
                const double d = heatmap->differenceCells()[size_t(q * columns + k)];
                const double want = double(a->weights[size_t(a->keys) + size_t(k - a->first_key)]) -
                                    double(b->weights[size_t(b->keys) + size_t(k - b->first_key)]);
                QCOMPARE(d, want);
            }
        }
    }

    // A long recomputation runs in the worker: the window answers meanwhile, shows its progress, and Cancel
    // stops it with the plots as they were; Compute starts it again and it completes.
    void cancel_and_a_responsive_window() {
        SessionSpec spec = small_spec("linear");
        spec.config.n_layers = 3;
        spec.config.n_heads = 4;
        spec.config.query_dimensions = 32;
        spec.config.value_dimensions = 32;
        spec.config.feed_forward_dimensions = 256;
        spec.batch = 8;
        MainWindow window(spec);
        QVERIFY(settle(window));
        window.controller()->step(2000);
        QVERIFY(settle(window));
        PlotPanel* plots = window.plotPanel();
        plots->attention()->select(AttentionRole::Self, 0, 0);
        QVERIFY(settle(window));
        // The effective rank of layer 2 over 2,000 steps: thousands of observed steps with their SVDs.
        QElapsedTimer since_tick;
        qint64 longest_gap = 0;
        QTimer heartbeat;
        QObject::connect(&heartbeat, &QTimer::timeout,
                         [&] { longest_gap = std::max(longest_gap, since_tick.restart()); });
        QSignalSpy failed(window.controller(), &SessionController::viewsFailed);
        QSignalSpy progress(window.controller(), &SessionController::viewsProgress);
        since_tick.start();
        heartbeat.start(10);
        plots->capacity()->select(AttentionRole::Self, 2, CapacityPlot::Quantity::EffectiveRank);
        plots->showView(plots->capacity());
        // Cancelled as soon as it reports progress, long before its 2,000 steps are done.
        QTRY_VERIFY_WITH_TIMEOUT(plots->recomputeShown() && progress.count() >= 1, 60000);
        QVERIFY(window.controller()->recomputing());
        QVERIFY2(plots->recomputeText().contains("layer 2"), qPrintable(plots->recomputeText()));
        for (QPushButton* button : plots->findChildren<QPushButton*>())
            if (button->text() == "Cancel" && !button->isHidden()) button->click();
        QTRY_VERIFY_WITH_TIMEOUT(!failed.isEmpty(), 30000);
        heartbeat.stop();
        QVERIFY2(longest_gap < 1000, qPrintable(QStringLiteral("the window stalled %1 ms").arg(longest_gap)));
        QCOMPARE(failed.first().at(2).toBool(), true);
        QVERIFY(!window.controller()->recomputing());
        QVERIFY(plots->recomputeShown());
        QVERIFY(plots->recomputeText().contains("cancelled"));
        QVERIFY(plots->capacity()->computeNote().contains("Compute"));
        // Cancelled: not computed again by itself.
        QTest::qWait(300);
        QVERIFY(!window.controller()->recomputing());
        // Compute: the whole range, the window answering meanwhile (its heartbeat), then nothing lacks.
        for (QPushButton* button : plots->findChildren<QPushButton*>())
            if (button->text() == "Compute" && !button->isHidden()) button->click();
        QElapsedTimer computing;
        computing.start();
        longest_gap = 0;
        since_tick.start();
        heartbeat.start(10);
        QVERIFY(settle(window));
        heartbeat.stop();
        // Meaningful only where the computation takes long: a window that waited for it would have stalled.
        qInfo("computed in %lld ms, the window's longest wait %lld ms", computing.elapsed(), longest_gap);
        QVERIFY(computing.elapsed() > 3 * longest_gap);
        QVERIFY(plots->capacity()->missingObservations().empty());
        QVERIFY(!plots->recomputeShown());
    }

    // Stepping does not wait for a view being computed: the computation gives way, and runs again after the
    // steps, over the longer run, without a word to the user.
    void stepping_interrupts_a_computation_that_resumes() {
        SessionSpec spec = small_spec("linear");
        spec.config.n_heads = 4;
        spec.config.query_dimensions = 32;
        spec.config.value_dimensions = 32;
        spec.batch = 8;
        MainWindow window(spec);
        QVERIFY(settle(window));
        window.controller()->step(2000);
        QVERIFY(settle(window));
        PlotPanel* plots = window.plotPanel();
        QSignalSpy failed(window.controller(), &SessionController::viewsFailed);
        QSignalSpy done(window.controller(), &SessionController::viewsRecomputed);
        QSignalSpy finished(window.controller(), &SessionController::stepsFinished);
        plots->capacity()->select(AttentionRole::Self, 1, CapacityPlot::Quantity::EffectiveRank);
        plots->showView(plots->capacity());
        QTRY_VERIFY_WITH_TIMEOUT(plots->recomputeShown(), 30000);
        window.controller()->step(10);
        QVERIFY(settle(window));
        QCOMPARE(finished.count(), 1);
        QCOMPARE(finished.first().at(0).toLongLong(), 10);
        QCOMPARE(window.controller()->lastStep(), int64_t(2010));
        // Given way (not shown as cancelled), then computed again; the new steps were observed as they came.
        QVERIFY(!failed.isEmpty());
        QCOMPARE(failed.first().at(2).toBool(), false);
        QVERIFY(!done.isEmpty());
        QCOMPARE(done.last().at(0).value<ViewRequest>().first, int64_t(1));
        QVERIFY(plots->capacity()->missingObservations().empty());
        QCOMPARE(plots->capacity()->csv().trimmed().split('\n').size(), 1 + 2010);
        QVERIFY(!plots->recomputeShown());
    }

    // The Intervene panel edits the element shown, and follows it when another is shown.
    void intervene_panel_defaults_to_the_element_shown() {
        SessionSpec spec = small_spec("linear");
        spec.batch = 4;
        spec.observed = 3;
        MainWindow window(spec);
        QVERIFY(settle(window));
        QCOMPARE(window.intervenePanel()->element(), 3);
        window.controller()->step(5);
        QVERIFY(settle(window));
        QCOMPARE(window.intervenePanel()->element(), 3);
        window.controller()->setObserved(1);
        QCOMPARE(window.intervenePanel()->element(), 1);
        window.intervenePanel()->choose(IntervenePanel::Action::EditInput, 0, 0, 2.0, 2, 0);
        QCOMPARE(window.intervenePanel()->intervention().element, 2);
        window.controller()->step(1);
        QVERIFY(settle(window));
        QCOMPARE(window.intervenePanel()->element(), 2);  // the user's choice stays while the element shown does
    }

    // An intervention at the last step: the run it left (its parent in the run tree, without interventions: the
    // original) goes on beside the branch with the original's records, drawn dashed past that step, and its values
    // are those of the run without interventions.
    void original_is_drawn_past_an_intervention_at_the_last_step() {
        const SessionSpec spec = small_spec("linear", InputKind::Feedback);
        MainWindow window(spec);
        QVERIFY(settle(window));
        window.controller()->step(20);
        QVERIFY(settle(window));
        const int root = window.controller()->viewedRun();
        window.intervenePanel()->choose(IntervenePanel::Action::AblateFromHere, 1, 0);
        window.intervenePanel()->apply();
        QVERIFY(settle(window));
        QVERIFY(window.controller()->viewedRun() != root);
        PlotPanel* plots = window.plotPanel();
        auto parent = [plots]() -> const RunOverlay* {
            for (const RunOverlay& o : plots->overlays())
                if (o.parent) return &o;
            return nullptr;
        };
        QVERIFY(parent());
        QCOMPARE(parent()->store, window.controller()->runs().find(root)->traces.get());
        QCOMPARE(parent()->store->last_step(), int64_t(20));
        window.controller()->step(10);
        QVERIFY(settle(window));
        QCOMPARE(window.controller()->lastStep(), int64_t(30));
        QVERIFY(parent());
        const TraceStore& original_run = *parent()->store;
        QCOMPARE(original_run.last_step(), int64_t(30));
        Session original(window.controller()->traces().info().model, spec);
        for (int t = 0; t < 30; ++t) {
            const StepRecord want = original.advance().element(spec.observed);
            QCOMPARE(original_run.records()[size_t(t)].output, want.output);
        }
        // The branch differs from it after the ablation, and the outputs plot draws both to step 30.
        QVERIFY(window.controller()->traces().records().back().output != original_run.records().back().output);
        const QStringList lines = plots->outputs()->csv().trimmed().split('\n');
        const QStringList last = lines.back().split(',');
        QCOMPARE(last.first(), QStringLiteral("30"));
        QVERIFY2(std::none_of(last.begin(), last.end(), [](const QString& cell) { return cell.isEmpty(); }),
                 qPrintable(lines.back()));
        QVERIFY(lines.first().contains(parent()->name.section(',', 0, 0)));
    }

    // The one list of views: each renders in its place, exports (or says why not), and `--view NAME` shows its tab.
    // Over a softmax run and a linear branch, every plot of the list is exported by at least one of them.
    void every_view_of_the_list_renders_exports_and_is_scripted() {
        QSet<QString> exported;
        for (const char* kind : {"full", "linear"}) {
            SessionSpec spec = small_spec(kind, InputKind::Random);
            if (QString(kind) == "linear") {
                Intervention ablation;
                ablation.kind = InterventionKind::AblateHead;
                ablation.layer = 1;
                spec.interventions = {ablation};
            }
            MainWindow window(spec);
            window.resize(1280, 720);
            QVERIFY(settle(window));
            window.controller()->step(12);
            QVERIFY(settle(window));
            PlotPanel* plots = window.plotPanel();
            QTemporaryDir dir;
            for (const ViewEntry& entry : view_entries()) {
                QWidget* page = plots->page(entry.name);
                QVERIFY2(page, qPrintable(entry.name));
                const bool tab = entry.place == ViewEntry::Place::Tab;
                QCOMPARE(plots->tabs()->indexOf(page) >= 0, tab);
                if (tab) {
                    // Scripted: --view NAME parses and brings the tab to the front.
                    const GuiOptions options = parse_gui_arguments({"--view", entry.name});
                    QCOMPARE(int(options.actions.size()), 1);
                    QCOMPARE(options.actions.front().value, entry.name);
                    plots->showView(plots->page(options.actions.front().value));
                    QCOMPARE(plots->tabs()->currentWidget(), page);
                }
                QVERIFY(settle(window));
                auto* view = qobject_cast<PlotView*>(page);
                if (!view) continue;  // the Tokens table: a page, no plot
                QVERIFY(plots->allPlots().contains(view));
                const QString why = view->notExported();
                QCOMPARE(plots->plots().contains(view), why.isEmpty());
                if (!why.isEmpty()) {
                    QVERIFY2(plots->skippedPlots().contains(QStringLiteral("%1 (%2)").arg(view->title(), why)),
                             qPrintable(plots->skippedPlots().join("; ")));
                    continue;
                }
                const QString path = dir.filePath(view->fileStem() + ".png");
                view->saveAs(path, QSize(640, 400));
                QVERIFY2(QFileInfo(path).size() > 1000, qPrintable(kind + (": " + entry.name)));
                QVERIFY2(!view->csv().isEmpty(), qPrintable(entry.name));
                exported << entry.name;
            }
            // Export all writes exactly the plots that have something to show.
            QTemporaryDir all;
            const QStringList written = save_all_plots(*plots, all.path(), "png", 640, 400);
            QCOMPARE(written.size(), plots->plots().size());
        }
        for (const ViewEntry& entry : view_entries())
            if (entry.name != "tokens")
                QVERIFY2(exported.contains(entry.name), qPrintable(entry.name + " never exported"));
        // A name not in the list is refused, naming those that are.
        try {
            parse_gui_arguments({"--view", "nonsense"});
            QFAIL("--view nonsense was taken");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains(view_names().join(", ")), e.what());
        }
    }
};

QTEST_MAIN(ViewsOnDemandTest)
#include "test_ui_views_on_demand.moc"
