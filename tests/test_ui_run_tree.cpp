// Runs as a tree (issue 19): no command drops a run, branches share their parent's steps, sessions
// save and reproduce the whole tree, and the scripted window and `export --run` read it.
#include <QtTest>

#include <QDir>
#include <QFile>
#include <QMessageBox>
#include <QTemporaryDir>
#include <QTreeWidget>

#include "cli_test_support.h"
#include "main_window.h"
#include "model_panel.h"
#include "runs_pane.h"
#include "plots/divergence_plot.h"
#include "plots/output_plot.h"
#include "plots/plot_panel.h"
#include "session/run_tree.h"
#include "session/session.h"
#include "session_io.h"
#include "test_support.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

// Every run's own records, by id, as they stand: what a command must leave as it was.
std::map<int, std::vector<std::vector<float>>> outputs_of(const SessionController& controller) {
    std::map<int, std::vector<std::vector<float>>> out;
    for (const auto& run : controller.runs().runs()) {
        auto& outputs = out[run->id];
        for (const BatchRecord& r : run->traces->batch_records()) outputs.push_back(r.outputs);
    }
    return out;
}

// The outputs of `steps` steps of `spec` run afresh, every element: (steps) of (N, E).
std::vector<std::vector<float>> fresh_outputs(SessionSpec spec, int64_t steps) {
    spec.steps = 0;
    auto session = Session::open(spec);
    std::vector<std::vector<float>> out;
    for (int64_t t = 0; t < steps; ++t) out.push_back(session->advance().outputs);
    return out;
}

// The rows of a traces.csv, without the header and without the latency column (a timing, not a value).
QStringList csv_rows(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) return {};
    QStringList rows = QString::fromUtf8(file.readAll()).split('\n', Qt::SkipEmptyParts);
    if (rows.isEmpty() || !rows.first().startsWith("step,batch,latency_ms,")) return {};
    rows.removeFirst();
    for (QString& row : rows) {
        QStringList fields = row.split(',');
        fields.removeAt(2);
        row = fields.join(',');
    }
    return rows;
}

// The rows of steps 1 .. `last` (the first column is the step).
QStringList rows_up_to(const QStringList& rows, int last) {
    QStringList out;
    for (const QString& row : rows)
        if (row.section(',', 0, 0).toInt() <= last) out << row;
    return out;
}

}  // namespace

class RunTreeTest : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString path(const QString& name) const { return dir_.filePath(name); }

    // A window on the small model with `steps` taken and every question answered `answer`.
    std::unique_ptr<MainWindow> window_with_steps(int steps, QStringList* asked = nullptr) {
        auto window = std::make_unique<MainWindow>(small_spec("linear", InputKind::Feedback));
        window->setDiscardQuestion([asked](const QString& text) {
            if (asked) *asked << text;
            return QMessageBox::Cancel;
        });
        if (!wait_idle(*window->controller())) return nullptr;
        window->controller()->step(steps);
        if (!wait_idle(*window->controller())) return nullptr;
        return window;
    }

    // `command` adds runs and leaves every run there was as it was, and asks nothing.
    template <typename Command>
    void keeps_every_run(const char* what, Command command, int added = 1) {
        QStringList asked;
        auto window = window_with_steps(6, &asked);
        QVERIFY(window);
        SessionController* controller = window->controller();
        const auto before = outputs_of(*controller);
        const int runs = controller->runs().size();
        command(*window);
        QVERIFY2(wait_idle(*controller), what);
        QVERIFY2(window->errorText().isEmpty(), qPrintable(QString(what) + ": " + window->errorText()));
        QCOMPARE(controller->runs().size(), runs + added);
        const auto after = outputs_of(*controller);
        for (const auto& [id, outputs] : before) {
            QVERIFY2(after.count(id), qPrintable(QString("%1 dropped run %2").arg(what).arg(id)));
            QVERIFY2(after.at(id) == outputs, qPrintable(QString("%1 changed run %2").arg(what).arg(id)));
        }
        QVERIFY2(asked.isEmpty(), qPrintable(QString(what) + " asked: " + asked.join(" | ")));
        // The new run is viewed: the steps go to it.
        QVERIFY(!before.count(controller->viewedRun()));
    }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        QStandardPaths::setTestModeEnabled(true);
    }

    // The scripted scenario: four runs, each reproduced exactly by export --run.
    void the_scripted_scenario_keeps_four_runs_and_exports_reproduce_them() {
        const QString session = path("s.json");
        QProcess window;
        window.setWorkingDirectory(dir_.path());
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("QT_QPA_PLATFORM", "offscreen");
        window.setProcessEnvironment(env);
        window.start(STEPSCOPE_BINARY,
                     {"--steps", "100", "--scrub", "50", "--steps", "20", "--scrub", "20", "--steps", "10", "--set",
                      "attention_type=full", "--apply", "--steps", "30", "--save-session", session});
        QVERIFY(window.waitForFinished(240000));
        QVERIFY2(window.exitCode() == 0, window.readAllStandardError().constData());

        const SessionTree tree = tree_from_file(session);
        QCOMPARE(int(tree.runs.size()), 4);
        struct Expected {
            int parent;  // index, -1 for a root
            int64_t branch_step, steps;
            const char* attention;
        };
        const Expected expected[] = {{-1, 0, 100, "linear"},
                                     {0, 50, 70, "linear"},
                                     {0, 20, 30, "linear"},
                                     {-1, 0, 30, "full"}};
        for (int i = 0; i < 4; ++i) {
            const RunEntry& r = tree.runs[size_t(i)];
            QCOMPARE(r.parent, expected[i].parent < 0 ? QString() : tree.runs[size_t(expected[i].parent)].name);
            QCOMPARE(r.branch_step, expected[i].branch_step);
            QCOMPARE(r.spec.steps, expected[i].steps);
            QCOMPARE(QString::fromStdString(r.spec.config.attention_type), QString(expected[i].attention));
            QVERIFY(r.spec.interventions.empty());  // Apply started the full-attention run clean
        }
        QCOMPARE(tree.viewed, tree.runs[3].name);

        // export --run of each writes its whole history, a branch's parent's steps before its branch step included.
        std::vector<QStringList> rows;
        for (int i = 0; i < 4; ++i) {
            const QString out = path(QStringLiteral("export_%1").arg(i));
            const auto result = stepscope::testing::run_stepscope(
                {"export", "--session", session, "--run", tree.runs[size_t(i)].name, "--out", out});
            QVERIFY2(result.exit_code == 0, qPrintable(result.stderr_text));
            rows.push_back(csv_rows(out + "/traces.csv"));
            QCOMPARE(rows.back().size(), int(expected[i].steps) * tree.runs[size_t(i)].spec.batch);
        }
        QCOMPARE(rows_up_to(rows[1], 50), rows_up_to(rows[0], 50));
        QCOMPARE(rows_up_to(rows[2], 20), rows_up_to(rows[0], 20));
        // Stepping on from a step repeats the run exactly (the same model and input, no intervention).
        QCOMPARE(rows[1], rows_up_to(rows[0], 70));
        QVERIFY(rows_up_to(rows[3], 30) != rows_up_to(rows[0], 30));
        // By "run N" too, and --list-runs prints the tree, the branches indented under their parent.
        const auto listed = stepscope::testing::run_stepscope({"export", "--session", session, "--list-runs"});
        QCOMPARE(listed.exit_code, 0);
        const QStringList lines = listed.stdout_text.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 4);
        QVERIFY2(lines[1].startsWith("  run 2:") && lines[1].contains("branch of run 1 at step 50"),
                 qPrintable(lines[1]));
        QVERIFY2(lines[3].startsWith("run 4:") && lines[3].contains("viewed"), qPrintable(lines[3]));

        // The window reopens the tree and reproduces every run: its records equal a fresh run of its session.
        SessionController again;
        again.openTree(tree);
        QVERIFY(wait_idle(again));
        QCOMPARE(again.runs().size(), 4);
        for (int i = 0; i < 4; ++i) {
            const Run& run = *again.runs().runs()[size_t(i)];
            QCOMPARE(run.last_step(), expected[i].steps);
            QCOMPARE(run.parent >= 0, expected[i].parent >= 0);
            const auto fresh = fresh_outputs(tree.runs[size_t(i)].spec, expected[i].steps);
            QCOMPARE(int(run.traces->batch_records().size()), int(expected[i].steps));
            for (size_t t = 0; t < fresh.size(); ++t)
                QVERIFY2(run.traces->batch_records()[t].outputs == fresh[t],
                         qPrintable(QString("run %1 step %2").arg(i).arg(t + 1)));
        }
        QCOMPARE(again.runs().name(*again.runs().find(again.viewedRun())), tree.runs[3].name);
        QVERIFY(!again.hasUnsavedWork());
    }

    // --- No command drops a run ---------------------------------------------------------------------------

    void apply_keeps_every_run_and_starts_without_interventions() {
        keeps_every_run(
            "Apply",
            [](MainWindow& w) {
                Intervention scale;
                scale.kind = InterventionKind::ScaleHead;
                scale.layer = 0;
                scale.head = 1;
                scale.factor = 0;
                w.controller()->setViewStep(3);
                w.controller()->intervene(scale, false);
                QVERIFY(wait_idle(*w.controller()));
                QCOMPARE(int(w.controller()->spec().interventions.size()), 1);
                QVERIFY(w.modelPanel()->setField("attention_type", "full"));
                QVERIFY(w.applyForms());
            },
            2);
    }

    void apply_checks_cheap_things_before_building() {
        auto window = window_with_steps(3);
        QVERIFY(window);
        Intervention scale;
        scale.kind = InterventionKind::ScaleHead;
        scale.layer = 0;
        scale.head = 1;
        window->controller()->intervene(scale, false);
        QVERIFY(wait_idle(*window->controller()));
        // The branch's head scaling means nothing to softmax attention: Apply leaves it behind.
        QVERIFY(window->modelPanel()->setField("attention_type", "full"));
        QSignalSpy failed(window->controller(), &SessionController::failed);
        QVERIFY(window->applyForms());
        QVERIFY(wait_idle(*window->controller()));
        QCOMPARE(failed.size(), 0);
        QVERIFY(window->controller()->spec().interventions.empty());
        QCOMPARE(QString::fromStdString(window->controller()->spec().config.attention_type), QString("full"));
    }

    void reset_keeps_every_run() {
        keeps_every_run("Reset", [](MainWindow& w) { w.controller()->reset(); });
    }

    void a_branch_keeps_the_run_it_left() {
        keeps_every_run("a branch", [](MainWindow& w) {
            w.controller()->setViewStep(2);
            w.controller()->step(3);
        });
    }

    void an_intervention_keeps_the_run_it_left() {
        keeps_every_run("an intervention", [](MainWindow& w) {
            w.controller()->setViewStep(4);
            Intervention input;
            input.kind = InterventionKind::EditInput;
            input.element = 0;
            input.index = 1;
            input.value = 3;
            w.controller()->intervene(input, false);
        });
    }

    void load_weights_and_open_demo_keep_every_run() {
        const QString demo = QString::fromStdString(stepscope::testing::demo_path("recall_linear.safetensors"));
        keeps_every_run("Load weights", [demo](MainWindow& w) { w.loadWeights(demo); });
        keeps_every_run("Open demo model", [demo](MainWindow& w) { QVERIFY(w.openFile(demo)); });
    }

    void open_session_snapshot_and_csv_keep_every_run() {
        {
            auto source = window_with_steps(4);
            QVERIFY(source);
            source->controller()->setViewStep(2);
            source->controller()->step(1);
            QVERIFY(wait_idle(*source->controller()));
            source->sessionIO()->saveSession(path("two.json"));
            source->controller()->saveSnapshot(path("snap.safetensors"));
            QVERIFY(wait_idle(*source->controller()));
        }
        QFile csv(path("input.csv"));
        QVERIFY(csv.open(QIODevice::WriteOnly));
        for (int t = 0; t < 5; ++t) {
            QStringList row;
            for (int i = 0; i < 16 * 3; ++i) row << QString::number(0.01 * (t + i));
            csv.write(row.join(',').toUtf8() + '\n');
        }
        csv.close();
        keeps_every_run(
            "Open session", [this](MainWindow& w) { QVERIFY(w.openFile(path("two.json"))); }, 2);
        keeps_every_run("Open snapshot", [this](MainWindow& w) { QVERIFY(w.openFile(path("snap.safetensors"))); });
        keeps_every_run("Open CSV", [this](MainWindow& w) { QVERIFY(w.openFile(path("input.csv"))); });
    }

    void quit_asks_only_while_a_run_is_unsaved() {
        QStringList asked;
        auto window = window_with_steps(3, &asked);
        QVERIFY(window);
        window->controller()->reset();
        QVERIFY(wait_idle(*window->controller()));
        window->controller()->step(2);
        QVERIFY(wait_idle(*window->controller()));
        window->show();
        QVERIFY(!window->close());  // Cancel
        QCOMPARE(asked.size(), 1);
        QVERIFY2(asked[0].contains("2 runs hold steps"), qPrintable(asked[0]));
        QCOMPARE(window->controller()->runs().size(), 2);
        window->sessionIO()->saveSession(path("quit.json"));
        QVERIFY(window->close());
        QCOMPARE(asked.size(), 1);
    }

    // A new run past the memory limit is refused in one line that says what to do; no run is dropped.
    void a_new_run_over_the_limit_is_refused_and_drops_nothing() {
        stepscope::testing::LimitScope limit("400M");
        SessionController controller;
        controller.open(small_spec("linear"));
        QVERIFY(wait_idle(controller));
        QSignalSpy failed(&controller, &SessionController::failed);
        controller.step(100000000);  // until the traces fill what the limit leaves them
        QVERIFY(wait_idle(controller, 600000));
        QCOMPARE(failed.size(), 1);
        QVERIFY2(failed[0][1].toString().contains("delete older runs"), qPrintable(failed[0][1].toString()));
        const int64_t steps = controller.lastStep();
        QVERIFY(steps > 1000);
        controller.reset();
        QVERIFY(wait_idle(controller));
        QCOMPARE(failed.size(), 2);
        QCOMPARE(failed[1][0].toString(), QString("memory"));
        const QString message = failed[1][1].toString();
        QVERIFY2(!message.contains('\n') && message.contains("STEPSCOPE_MAX_MEMORY") &&
                     message.contains("save the session, then delete older runs"),
                 qPrintable(message));
        QCOMPARE(controller.runs().size(), 1);
        QCOMPARE(controller.lastStep(), steps);
        // Deleting the run makes room again.
        controller.deleteRun(controller.viewedRun());
        QVERIFY(controller.runs().empty());
        controller.open(small_spec("linear"));
        QVERIFY(wait_idle(controller));
        QCOMPARE(controller.runs().size(), 1);
    }

    // --- The Runs pane ---------------------------------------------------------------------------------

    void the_runs_pane_shows_the_tree_and_deleting_asks() {
        auto window = window_with_steps(10);
        QVERIFY(window);
        SessionController* controller = window->controller();
        controller->setViewStep(5);
        controller->step(2);
        QVERIFY(wait_idle(*controller));
        const int branch = controller->viewedRun();
        controller->reset();
        QVERIFY(wait_idle(*controller));
        RunsPane* pane = window->runsPane();
        QTreeWidget* tree = pane->tree();
        QTRY_COMPARE(tree->topLevelItemCount(), 2);
        QCOMPARE(tree->topLevelItem(0)->childCount(), 1);
        QTreeWidgetItem* child = tree->topLevelItem(0)->child(0);
        QVERIFY2(child->text(0).startsWith("run 2:") && child->text(1) == "5–7",
                 qPrintable(child->text(0) + child->text(1)));
        QCOMPARE(child->checkState(0), Qt::Checked);

        // Unchecking hides a run from the plots; the box is the run's.
        window->plotPanel()->refreshNow();
        QCOMPARE(int(window->plotPanel()->overlays().size()), 2);
        child->setCheckState(0, Qt::Unchecked);  // the pane redraws later: `child` stays valid until then
        QVERIFY(!controller->runs().find(branch)->visible);
        QTest::qWait(1);
        QCOMPARE(int(window->plotPanel()->overlays().size()), 1);
        // Renamed in place; a name another run has is refused.
        pane->item(branch)->setText(0, "ablation try");
        QTest::qWait(1);
        QCOMPARE(controller->runs().name(*controller->runs().find(branch)), QString("ablation try"));
        QVERIFY(controller->runs().find_by_name("ablation try"));
        QVERIFY(!controller->renameRun(branch, controller->runs().name(*controller->runs().runs().front())));
        // A click views (and so steps) a run.
        const int root = controller->runs().runs().front()->id;
        QTRY_VERIFY(pane->item(root));
        emit tree->itemClicked(pane->item(root), 0);
        QCOMPARE(controller->viewedRun(), root);
        QCOMPARE(controller->lastStep(), qint64(10));

        // Delete asks; No keeps the run, Yes removes it with its branch.
        QStringList asked;
        bool yes = false;
        pane->setDeleteQuestion([&](const QString& text) {
            asked << text;
            return yes;
        });
        QVERIFY(!pane->deleteRun(root));
        QCOMPARE(controller->runs().size(), 3);
        yes = true;
        QVERIFY(pane->deleteRun(root));
        QCOMPARE(asked.size(), 2);
        QVERIFY2(asked[0].contains("and its branch"), qPrintable(asked[0]));
        QCOMPARE(controller->runs().size(), 1);
        QVERIFY(!controller->runs().find(branch));
        QTRY_COMPARE(tree->topLevelItemCount(), 1);
        QVERIFY(controller->hasRun());
    }

    // Divergence compares the viewed run with any run shown: a plain branch with its parent by default,
    // two models on one input step by step.
    void divergence_compares_any_two_runs() {
        auto window = window_with_steps(8);
        QVERIFY(window);
        SessionController* controller = window->controller();
        const int linear = controller->viewedRun();
        controller->setViewStep(4);
        controller->step(4);
        QVERIFY(wait_idle(*controller));
        DivergencePlot* divergence = window->plotPanel()->divergence();
        window->plotPanel()->refreshNow();
        QCOMPARE(divergence->comparedWith(), 0);  // the parent, the one run drawn beside
        QVERIFY2(divergence->shownNote().contains("equal"), qPrintable(divergence->shownNote()));
        auto short_name = [controller](int id) {
            return controller->runs().name(*controller->runs().find(id)).section(':', 0, 0);
        };
        const QString branch_title =
            QString("%1 against %2").arg(short_name(controller->viewedRun()), short_name(linear));
        QVERIFY2(divergence->fullTitle().contains(branch_title), qPrintable(divergence->fullTitle()));
        QVERIFY(!divergence->fullTitle().contains("original"));

        QVERIFY(window->modelPanel()->setField("attention_type", "full"));
        QVERIFY(window->applyForms());
        QVERIFY(wait_idle(*controller));
        controller->step(8);
        QVERIFY(wait_idle(*controller));
        const auto& overlays = window->plotPanel()->overlays();
        int index = -1;
        for (size_t i = 0; i < overlays.size(); ++i)
            if (overlays[i].store == controller->runs().find(linear)->traces.get()) index = int(i);
        QVERIFY(index >= 0);
        divergence->compareWith(index);
        window->plotPanel()->refreshNow();
        // The title names both runs compared, never "the original".
        const QString title = QString("%1 against %2").arg(short_name(controller->viewedRun()), short_name(linear));
        QVERIFY2(divergence->fullTitle().contains(title), qPrintable(divergence->fullTitle()));
        divergence->compareWith(-1);
        QVERIFY2(divergence->fullTitle().contains(short_name(controller->viewedRun()) + " against its original"),
                 qPrintable(divergence->fullTitle()));
        divergence->compareWith(index);
        QCOMPARE(divergence->currentGraphs().size(), size_t(1));
        const StepRecord full = *controller->traces().at_step(5);
        const StepRecord other = *controller->runs().find(linear)->traces->at_step(5);
        double sum = 0;
        for (size_t i = 0; i < full.output.size(); ++i) sum += std::pow(double(full.output[i]) - other.output[i], 2);
        const auto data = divergence->currentGraphs().front()->data();
        bool found = false;
        for (auto it = data->constBegin(); it != data->constEnd(); ++it)
            if (it->key == 5) {
                QVERIFY(std::abs(it->value - std::sqrt(sum)) <= 1e-6 * std::sqrt(sum));
                found = true;
            }
        QVERIFY(found);
    }

    // A refused scripted action ends the script with a non-zero exit code.
    void a_refused_scripted_action_exits_non_zero() {
        const auto missing = stepscope::testing::run_stepscope(
            {"--steps", "2", "--select-run", "run 9", "--save-session", path("never.json")});
        QVERIFY2(missing.exit_code != 0, qPrintable(missing.stderr_text));
        QVERIFY(missing.stderr_text.contains("no run 'run 9'"));
        QVERIFY(!QFile::exists(path("never.json")));
        MainWindow window(small_spec("linear"));
        QStringList keys;
        for (const auto& [key, what] : window.shortcutList()) keys << key + " " + what;
        QVERIFY2(keys.join('|').contains("Ctrl+I Intervene"), qPrintable(keys.join(" | ")));
        QVERIFY2(keys.join('|').contains("Ctrl+P Show this run"), qPrintable(keys.join(" | ")));
        const auto help = stepscope::testing::run_stepscope({"--help"});
        for (const char* flag : {"--save-session", "--select-run", "--apply", "--steps", "--scrub", "--intervene",
                                 "--set", "--screenshot", "--view"})
            QVERIFY2(help.stdout_text.contains(flag), flag);
    }
};

QTEST_MAIN(RunTreeTest)
#include "test_ui_run_tree.moc"
