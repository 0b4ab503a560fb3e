// Stepping: every plot gets the new steps, scrubbing back and stepping on equals a fresh run, Step N cancels.
#include <QComboBox>
#include <QElapsedTimer>
#include <QtTest>
#include <qcustomplot.h>

#include "main_window.h"
#include "plots/attention_plot.h"
#include "plots/divergence_plot.h"
#include "plots/output_plot.h"
#include "plots/performance_plot.h"
#include "plots/plot_panel.h"
#include "plots/state_plot.h"
#include "session/checkpoint_store.h"
#include "stepscope/attention_kind.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

int points(const TimePlot* plot) {
    int least = -1;
    for (QCPGraph* graph : plot->currentGraphs())
        least = least < 0 ? graph->dataCount() : std::min(least, graph->dataCount());
    return least;
}

}  // namespace

class SteppingTest : public QObject {
    Q_OBJECT

private slots:
    void stepping_updates_every_plot() {
        MainWindow window(small_spec("full"));
        SessionController* run = window.controller();
        QVERIFY(wait_idle(*run));
        QSignalSpy results(run, &SessionController::recordsAppended);
        run->step(5);
        QVERIFY(wait_idle(*run));
        QVERIFY(!results.isEmpty());
        QCOMPARE(run->traces().size(), 5);
        QCOMPARE(run->lastStep(), qint64(5));
        PlotPanel* plots = window.plotPanel();
        plots->refreshNow();
        QCOMPARE(plots->outputs()->currentGraphs().size(), size_t(4));  // y[0..3]
        QCOMPARE(points(plots->outputs()), 5);
        QCOMPARE(plots->states()->currentGraphs().size(), size_t(2));  // one per head
        QCOMPARE(points(plots->states()), 5);
        QCOMPARE(points(plots->performance()), 5);
        QCOMPARE(plots->attention()->rowsShown(), 5);
        // The state plot draws what the engine observed: full attention's ||K|| grows from zero.
        const double first = plots->states()->currentGraphs()[0]->data()->at(0)->value;
        const double last = plots->states()->currentGraphs()[0]->data()->at(4)->value;
        QVERIFY(first > 0 && last > first);

        run->step(3);
        QVERIFY(wait_idle(*run));
        plots->refreshNow();
        QCOMPARE(points(plots->outputs()), 8);
        QCOMPARE(points(plots->states()), 8);
        QCOMPARE(points(plots->performance()), 8);
        QCOMPARE(plots->attention()->rowsShown(), 8);
    }

    void the_seed_example_steps() {
        MainWindow window(seed_example());
        SessionController* run = window.controller();
        QVERIFY(wait_idle(*run));
        QCOMPARE(run->traces().info().batch, 10);
        QCOMPARE(run->traces().width(), 384);
        run->step(3);
        QVERIFY(wait_idle(*run));
        QCOMPARE(run->traces().size(), 3);
        QCOMPARE(run->traces().records()[2].layers.size(), size_t(8));
        QCOMPARE(run->traces().records()[2].layers[7].self.first.size(), size_t(12));
        QCOMPARE(run->traces().records()[2].layers[7].self.second.size(), size_t(12));  // ||Z|| beside ||S||
        window.plotPanel()->refreshNow();
        QCOMPARE(points(window.plotPanel()->states()), 3);
    }

    // The state plot names each norm by the kind's components and says in its tooltip what the component holds;
    // a kind with one component has no second norm to plot.
    void state_norms_are_named_by_the_kinds_components() {
        for (const std::string& name : attention_kind_names()) {
            const AttentionCapabilities& kind = attention_capabilities(name);
            MainWindow window(small_spec(name.c_str()));
            SessionController* run = window.controller();
            QVERIFY(wait_idle(*run));
            run->step(2);
            QVERIFY(wait_idle(*run));
            window.plotPanel()->refreshNow();
            QComboBox* quantity = nullptr;
            for (QComboBox* box : window.plotPanel()->states()->findChildren<QComboBox*>())
                if (box->itemText(0).endsWith(" per head")) quantity = box;
            QVERIFY2(quantity, name.c_str());
            for (int c = 0; c < 2; ++c) {
                const bool declared = c < int(kind.components.size());
                if (declared) {
                    const StateComponent& component = kind.components[size_t(c)];
                    QCOMPARE(quantity->itemText(c), QStringLiteral("‖%1‖ per head").arg(component.symbol.c_str()));
                    QCOMPARE(quantity->itemData(c, Qt::ToolTipRole).toString(),
                             QString::fromStdString(component.description));
                }
                window.plotPanel()->states()->select(AttentionRole::Self, 0, StatePlot::Quantity(c));
                window.plotPanel()->refreshNow();
                QCOMPARE(points(window.plotPanel()->states()) > 0, declared);
            }
        }
    }

    void scrubbing_back_and_stepping_on_equals_a_fresh_run_data() {
        QTest::addColumn<QString>("attention");
        QTest::addColumn<int>("input");
        QTest::addColumn<QString>("feature_map");
        QTest::addColumn<int>("steps");
        QTest::addColumn<int>("back_to");
        QTest::addColumn<int>("then");
        QTest::newRow("full, random input") << "full" << int(InputKind::Random) << "elu" << 10 << 4 << 3;
        QTest::newRow("linear, fed back") << "linear" << int(InputKind::Feedback) << "elu" << 10 << 4 << 3;
        QTest::newRow("favor, fed back, past a checkpoint")
            << "linear" << int(InputKind::Feedback) << "favor" << 70 << 66 << 5;
        QTest::newRow("sinusoid, back to the start")
            << "causal-linear" << int(InputKind::Sinusoid) << "elu" << 6 << 0 << 2;
    }
    void scrubbing_back_and_stepping_on_equals_a_fresh_run() {
        QFETCH(QString, attention);
        QFETCH(int, input);
        QFETCH(QString, feature_map);
        QFETCH(int, steps);
        QFETCH(int, back_to);
        QFETCH(int, then);
        SessionController run;
        run.open(small_spec(attention.toStdString(), InputKind(input), feature_map.toStdString()));
        QVERIFY(wait_idle(run));
        run.step(steps);
        QVERIFY(wait_idle(run));
        QSignalSpy branches(&run, &SessionController::branched);
        run.setViewStep(back_to);
        QCOMPARE(run.viewStep(), qint64(back_to));
        QCOMPARE(run.traces().size(), steps);  // scrubbing alone changes nothing
        run.step(then);
        QVERIFY(wait_idle(run));
        QCOMPARE(branches.size(), 1);
        QCOMPARE(run.runs().size(), 2);  // the run scrubbed back keeps its steps beside the branch
        QCOMPARE(run.runs().runs().front()->last_step(), qint64(steps));
        const int64_t end = back_to + then;
        QCOMPARE(run.lastStep(), qint64(end));
        QCOMPARE(run.viewStep(), qint64(end));

        std::vector<StepRecord> expected;
        const Checkpoint fresh = fresh_run(run, end, &expected);
        const Checkpoint branched = run.stateAt(end);
        QCOMPARE(branched.state.step, end);
        QVERIFY2(branched.state == fresh.state, "the branched state differs from a fresh run's");
        QVERIFY(branched.last_output == fresh.last_output);
        QCOMPARE(run.traces().size(), int(end));
        for (int64_t i = 0; i < end; ++i) {
            QCOMPARE(run.traces().records()[size_t(i)].step, expected[size_t(i)].step);
            QVERIFY2(run.traces().records()[size_t(i)].output == expected[size_t(i)].output,
                     qPrintable(QString("output of step %1 differs").arg(i + 1)));
        }
    }

    void step_n_cancels() {
        SessionController run;
        run.open(small_spec("full"));
        QVERIFY(wait_idle(run));
        QSignalSpy finished(&run, &SessionController::stepsFinished);
        run.step(100000000);
        QVERIFY(QTest::qWaitFor([&] { return run.traces().size() > 0; }, 60000));
        run.cancel();
        QVERIFY(wait_idle(run));
        QCOMPARE(finished.size(), 1);
        const qint64 done = finished.first().at(0).toLongLong();
        QCOMPARE(finished.first().at(1).toBool(), true);
        QVERIFY(done > 0 && done < 100000000);
        QCOMPARE(qint64(run.traces().size()), done);
        // The run is whole and steps on from where it stopped.
        run.step(1);
        QVERIFY(wait_idle(run));
        QCOMPARE(run.lastStep(), done + 1);
        QVERIFY(run.stateAt(done + 1).state == fresh_run(run, done + 1).state);
    }

    void run_and_pause() {
        SessionController run;
        run.open(small_spec("linear"));
        QVERIFY(wait_idle(run));
        QSignalSpy running(&run, &SessionController::playingChanged);
        run.play(0);  // as fast as the engine goes
        QVERIFY(run.playing());
        QVERIFY(QTest::qWaitFor([&] { return run.traces().size() > 20; }, 60000));
        run.pause();
        QVERIFY(!run.playing());
        QVERIFY(wait_idle(run));
        const int paused_at = run.traces().size();
        QSignalSpy appended(&run, &SessionController::recordsAppended);
        QVERIFY(!appended.wait(100));
        QCOMPARE(run.traces().size(), paused_at);
        QCOMPARE(running.size(), 2);

        // A timer at 50 steps a second: wait for its steps rather than for a time, since a loaded machine
        // slows the ticks; the rate is a ceiling, so however slow they come they are never more than it allows.
        QElapsedTimer clock;
        clock.start();
        run.play(50);
        QTRY_VERIFY_WITH_TIMEOUT(run.traces().size() >= paused_at + 2, 60000);
        run.pause();
        QVERIFY(wait_idle(run));
        const int stepped = run.traces().size() - paused_at;
        const qint64 elapsed = clock.elapsed();
        QVERIFY2(stepped >= 2 && stepped <= 2 + elapsed / 10,
                 qPrintable(QString("%1 steps in %2 ms at 50/s").arg(stepped).arg(elapsed)));
    }

    void another_batch_element_shows_the_same_run() {
        SessionController run;
        run.open(small_spec("full"));
        QVERIFY(wait_idle(run));
        run.step(6);
        QVERIFY(wait_idle(run));
        const State before = run.stateAt(6).state;
        const std::vector<float> element1 = run.traces().records()[5].output;
        run.setObserved(2);
        QVERIFY(wait_idle(run));
        QCOMPARE(run.traces().size(), 6);
        QCOMPARE(run.traces().info().observed, 2);
        QCOMPARE(run.spec().observed, 2);
        QVERIFY(run.stateAt(6).state == before);
        std::vector<StepRecord> expected;
        fresh_run(run, 6, &expected);
        QVERIFY(run.traces().records()[5].output == expected[5].output);
        QVERIFY(run.traces().records()[5].output != element1);
    }

    // Two changes in a row (two arrow clicks): the second supersedes the first, the run keeps its steps.
    void quick_changes_of_the_batch_element_keep_the_run() {
        SessionController run;
        run.open(small_spec("linear"));
        QVERIFY(wait_idle(run));
        run.step(200);
        QVERIFY(wait_idle(run));
        run.setObserved(2);
        run.setObserved(0);
        QVERIFY(wait_idle(run));
        QCOMPARE(run.lastStep(), qint64(200));
        QCOMPARE(run.traces().size(), 200);
        QCOMPARE(run.traces().info().observed, 0);
        std::vector<StepRecord> expected;
        fresh_run(run, 200, &expected);
        QVERIFY(run.traces().records()[199].output == expected[199].output);
    }

    // Run, Pause, Run again at full speed: the first run's late report does not stop the second.
    void a_second_fast_run_is_not_stopped_by_the_first() {
        SessionController run;
        run.open(small_spec("linear"));
        QVERIFY(wait_idle(run));
        run.play(0);
        run.pause();
        run.play(0);
        QTest::qWait(500);
        QVERIFY(run.playing());
        const int stepped = run.traces().size();
        QVERIFY(QTest::qWaitFor([&] { return run.traces().size() > stepped; }, 60000));
        run.pause();
        QVERIFY(wait_idle(run));
    }

    // A fast run is paced by the window: the engine never gets far ahead of what is drawn.
    void a_fast_run_waits_for_the_window() {
        SessionController run;
        run.open(small_spec("linear"));
        QVERIFY(wait_idle(run));
        run.play(0);
        QVERIFY(QTest::qWaitFor([&] { return run.traces().size() > 50; }, 60000));
        // The GUI thread stops taking batches for 0.3 s, time for thousands of these steps; the engine
        // may fill the two batches in flight and one last one, of at most 256 records each, then waits.
        const int before = run.traces().size();
        QThread::msleep(300);
        run.pause();
        // Still not taking batches: the engine meets the pause while it waits for room.
        QThread::msleep(50);
        QVERIFY(wait_idle(run));
        const int stepped_while_blocked = run.traces().size() - before;
        QVERIFY2(stepped_while_blocked <= 3 * 256, qPrintable(QString::number(stepped_while_blocked)));
        // The pause came while the engine waited for room: the steps it held still reached the window.
        QCOMPARE(run.stateAt(run.lastStep()).state.step, run.lastStep());
        QVERIFY_THROWS_EXCEPTION(stepscope::Error, run.stateAt(run.lastStep() + 1));
    }

    // A cancelled replay throws before it changes anything: the run stays at its step.
    void a_cancelled_rewind_leaves_the_run_where_it_was() {
        const SessionSpec spec = small_spec("full");
        Session session(build_model(spec), spec);
        for (int t = 0; t < 40; ++t) session.advance();
        const State before = session.state();
        int asked = 0;
        bool cancelled = false;
        try {
            session.rewind(session.base_step() + 7, [&] { return ++asked > 3; });
        } catch (const RunCancelled&) {
            cancelled = true;
        }
        QVERIFY(cancelled);
        QCOMPARE(asked, 4);
        QCOMPARE(session.current_step(), int64_t(40));
        QVERIFY(session.state() == before);
        session.rewind(7);
        QCOMPARE(session.current_step(), int64_t(7));
    }

    // A state larger than the whole budget still leaves the newest checkpoint, so a rewind replays
    // from there and not from the start.
    void the_newest_checkpoint_outlives_a_tight_budget() {
        const SessionSpec spec = small_spec("full");
        const auto model = build_model(spec);
        Session session(model, spec);
        CheckpointStore store(48, 1);  // one byte: every state is over budget
        store.reset({session.state(), {}});
        for (int t = 0; t < 100; ++t) {
            session.advance();
            if (store.wants(session.current_step())) store.offer({session.state(), {}});
        }
        QCOMPARE(store.count(), 2);
        const int64_t newest = store.nearest(100).state.step;
        QVERIFY2(newest > 0 && 100 - newest <= store.interval(), qPrintable(QString::number(newest)));
    }

    void a_rebuild_cancels_the_steps_in_flight() {
        SessionController run;
        run.open(small_spec("linear"));
        QVERIFY(wait_idle(run));
        run.step(100000000);
        QVERIFY(QTest::qWaitFor([&] { return run.traces().size() > 0; }, 60000));
        QSignalSpy opened(&run, &SessionController::runOpened);
        run.open(small_spec("full"));
        QVERIFY(wait_idle(run));
        QCOMPARE(opened.size(), 1);
        QCOMPARE(run.traces().size(), 0);
        QCOMPARE(run.traces().info().label, QString("full"));
    }

    void a_view_behind_a_tab_is_drawn_when_it_shows() {
        MainWindow window(small_spec("linear"));
        SessionController* run = window.controller();
        QVERIFY(wait_idle(*run));
        PlotPanel* plots = window.plotPanel();
        QSignalSpy hidden_drawn(plots->divergence()->plot(), &QCustomPlot::afterReplot);
        QSignalSpy shown_drawn(plots->outputs()->plot(), &QCustomPlot::afterReplot);
        run->step(20);
        QVERIFY(wait_idle(*run));
        QVERIFY(QTest::qWaitFor([&] { return shown_drawn.size() > 0; }, 5000));
        QTest::qWait(200);
        QCOMPARE(hidden_drawn.size(), 0);
        plots->showView(plots->divergence());
        QVERIFY(QTest::qWaitFor([&] { return hidden_drawn.size() > 0; }, 5000));
    }

    void ten_thousand_steps_redraw_at_screen_rate() {
        SessionSpec spec = small_spec("linear");
        spec.config.n_layers = 1;
        spec.config.n_heads = 1;
        spec.config.query_dimensions = 4;
        spec.config.value_dimensions = 4;
        spec.config.feed_forward_dimensions = 8;
        MainWindow window(spec);
        SessionController* run = window.controller();
        QVERIFY(wait_idle(*run));
        QElapsedTimer clock;
        clock.start();
        const int frames_before = window.plotPanel()->frames();
        run->step(10000);
        QVERIFY(wait_idle(*run, 240000));
        const qint64 elapsed = clock.elapsed();
        window.plotPanel()->refreshNow();
        // Every step is kept (the CSV has a row each), and drawn decimated: at most five points a column.
        const TimePlot* outputs = window.plotPanel()->outputs();
        QCOMPARE(outputs->csv().count('\n'), 10001);
        QVERIFY(points(outputs) > 0);
        QVERIFY2(points(outputs) <= 5 * outputs->plot()->axisRect()->width() + 2,
                 qPrintable(QString("%1 points drawn").arg(points(outputs))));
        const int frames = window.plotPanel()->frames() - frames_before;
        // A frame every 83 ms at most while steps arrive (plus the first and the final refresh), however
        // many steps arrived: the drawing leaves the engine its cores.
        QVERIFY2(frames <= elapsed / 83 + 3, qPrintable(QString("%1 frames in %2 ms").arg(frames).arg(elapsed)));
    }
};

QTEST_MAIN(SteppingTest)
#include "test_ui_stepping.moc"
