// Runs are never lost: showing another batch element re-slices what was recorded, a branch keeps the
// abandoned steps pinned, replacing or closing a run with unsaved steps asks first, and a store bounded
// for long exports keeps evenly spaced steps.
#include <QFileDialog>
#include <QImage>
#include <QLineEdit>
#include <QStatusBar>
#include <QtTest>

#include "export_controller.h"
#include "gui_script.h"
#include "headless_export.h"
#include "main_window.h"
#include "plots/plot_panel.h"
#include "session/trace_store.h"
#include "session_io.h"
#include "stepscope/error.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

class RunsSafeTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        QStandardPaths::setTestModeEnabled(true);  // the dialogs' remembered folders stay out of the user's settings
    }

    // Every element is recorded: another one shows at once, the run keeps its length and its state.
    void another_batch_element_shows_at_once_and_keeps_the_run() {
        SessionController run;
        run.open(small_spec("full"));
        QVERIFY(wait_idle(run));
        run.step(40);
        QVERIFY(wait_idle(run));
        const State before = run.stateAt(40).state;
        QSignalSpy branched(&run, &SessionController::branched);
        QSignalSpy observed(&run, &SessionController::observedChanged);
        run.setObserved(2);
        // No wait: the slice is there as the call returns.
        QCOMPARE(observed.size(), 1);
        QCOMPARE(run.traces().info().observed, 2);
        QCOMPARE(run.spec().observed, 2);
        QCOMPARE(run.traces().size(), 40);
        std::vector<StepRecord> expected;
        fresh_run(run, 40, &expected);
        for (int i = 0; i < 40; ++i)
            QVERIFY2(run.traces().records()[size_t(i)].output == expected[size_t(i)].output,
                     qPrintable(QString("step %1").arg(i + 1)));
        // The heatmap's weights and the state norms follow the element too.
        const StepRecord& last = run.traces().records().back();
        QCOMPARE(last.attention.size(), expected.back().attention.size());
        QVERIFY(!last.attention.empty());
        QVERIFY(last.attention[0].weights == expected.back().attention[0].weights);
        QVERIFY(last.layers[1].self.first == expected.back().layers[1].self.first);
        QVERIFY(wait_idle(run));
        QCOMPARE(branched.size(), 0);
        QCOMPARE(run.lastStep(), qint64(40));
        QVERIFY(run.stateAt(40).state == before);
    }

    // Changing the element while the engine runs neither stops nor shortens the run.
    void changing_the_element_during_a_run_keeps_every_step() {
        SessionController run;
        run.open(small_spec("linear"));
        QVERIFY(wait_idle(run));
        QSignalSpy branched(&run, &SessionController::branched);
        run.play(0);
        QVERIFY(QTest::qWaitFor([&] { return run.traces().size() > 50; }, 60000));
        const int before = run.traces().size();
        run.setObserved(2);
        run.setObserved(0);
        QVERIFY(run.playing());
        QVERIFY(run.traces().size() >= before);
        QVERIFY(QTest::qWaitFor([&] { return run.traces().size() > before + 50; }, 60000));
        run.pause();
        QVERIFY(wait_idle(run));
        QCOMPARE(branched.size(), 0);
        QCOMPARE(run.traces().info().observed, 0);
        const int steps = run.traces().size();
        QCOMPARE(run.lastStep(), qint64(steps));
        std::vector<StepRecord> expected;
        fresh_run(run, steps, &expected);
        QVERIFY(run.traces().records().back().output == expected.back().output);
        QVERIFY(run.traces().records().front().output == expected.front().output);
    }

    // The seed example's records of every element: 23,152 bytes a step (trace_store.h and the README),
    // so the 2 GB cap holds some 92,000 steps; the heatmap's implicit maps of 20 steps come on top here.
    void the_seed_example_fits_the_trace_budget() {
        SessionController run;
        run.open(seed_example());
        QVERIFY(wait_idle(run));
        run.step(20);
        QVERIFY(wait_idle(run));
        QCOMPARE(run.traces().batch_records().front().batch, 10);
        const double per_step = double(run.traces().bytes()) / run.traces().size();
        qInfo("seed example: %.0f bytes a step, %.0f steps within the cap", per_step, kMaxTraceBytes / per_step);
        QVERIFY2(kMaxTraceBytes / per_step >= 75000, qPrintable(QString::number(per_step)));
    }

    // A bounded store keeps evenly spaced older steps and every step of the heatmap's window.
    void a_bounded_store_keeps_evenly_spaced_steps() {
        const SessionSpec spec = small_spec("full");
        Session session(build_model(spec), spec);
        TraceStore store;
        store.start(session.info());
        store.keep_at_most(100);
        std::vector<BatchRecord> chunk;
        for (int t = 0; t < 1500; ++t) chunk.push_back(session.advance());
        for (size_t i = 0; i < chunk.size(); i += 50)
            store.append(std::vector<BatchRecord>(chunk.begin() + long(i), chunk.begin() + long(i + 50)));
        QVERIFY2(store.size() <= 100 + kAttentionWindow, qPrintable(QString::number(store.size())));
        QCOMPARE(store.last_step(), qint64(1500));
        QCOMPARE(store.records().size(), store.batch_records().size());
        // The heatmap's window is whole.
        for (int64_t s = 1500 - kAttentionWindow + 1; s <= 1500; ++s) QVERIFY(store.at_step(s).has_value());
        // Before it, one stride apart.
        const auto& records = store.records();
        const size_t older = records.size() - kAttentionWindow;
        QVERIFY(older > 10);
        const int64_t stride = records[1].step - records[0].step;
        QVERIFY(stride > 1);
        for (size_t i = 1; i < older; ++i) QCOMPARE(records[i].step - records[i - 1].step, stride);
        QCOMPARE(records[older - 1].output, chunk[size_t(records[older - 1].step - 1)].element(1).output);
    }

    void stepping_after_scrubbing_back_keeps_the_run_and_shares_its_steps() {
        MainWindow window(small_spec("full"));
        SessionController* run = window.controller();
        QVERIFY(wait_idle(*run));
        run->step(30);
        QVERIFY(wait_idle(*run));
        const int original = run->viewedRun();
        const std::vector<StepRecord> before = run->traces().records();
        run->setViewStep(12);
        QSignalSpy branched(run, &SessionController::branched);
        run->step(1);
        QVERIFY(wait_idle(*run));
        QCOMPARE(branched.size(), 1);
        QCOMPARE(branched[0][1].toInt(), original);
        QCOMPARE(branched[0][2].toLongLong(), qint64(12));
        // The branch is viewed and stepped; the run it left keeps all 30 steps.
        QVERIFY(run->viewedRun() != original);
        QCOMPARE(run->lastStep(), qint64(13));
        QCOMPARE(run->runs().size(), 2);
        const TraceStore& kept = *run->runs().find(original)->traces;
        QCOMPARE(kept.last_step(), qint64(30));
        for (size_t i = 0; i < before.size(); ++i)
            QVERIFY2(kept.records()[i].output == before[i].output, qPrintable(QString("step %1").arg(i + 1)));
        // The branch shows the run's first 12 records as its own without copying them: the same objects.
        const TraceStore& branch = run->traces();
        QCOMPARE(branch.size(), 13);
        QCOMPARE(branch.own_size(), 1);
        for (size_t i = 0; i < 12; ++i) QCOMPARE(branch.records()[i].output.data(), kept.records()[i].output.data());
        QVERIFY(branch.bytes() * 5 < kept.bytes());
        // The plots draw the run it left beside it, named.
        QCOMPARE(int(window.plotPanel()->overlays().size()), 1);
        QVERIFY(window.plotPanel()->overlays().front().name.startsWith("run 1:"));
        const QString status = window.statusBar()->currentMessage();
        QVERIFY2(status.contains("Branched at step 12: run 1 keeps its steps to 30"), qPrintable(status));
    }

    void stepping_on_from_the_end_branches_nothing() {
        MainWindow window(small_spec("linear"));
        SessionController* run = window.controller();
        QVERIFY(wait_idle(*run));
        QSignalSpy branched(run, &SessionController::branched);
        run->step(5);
        QVERIFY(wait_idle(*run));
        run->step(5);
        QVERIFY(wait_idle(*run));
        QCOMPARE(branched.size(), 0);
        QCOMPARE(run->runs().size(), 1);
        QVERIFY(window.plotPanel()->overlays().empty());
    }

    void quitting_with_unsaved_steps_asks() {
        MainWindow window(small_spec("linear"));
        SessionController* run = window.controller();
        QVERIFY(wait_idle(*run));
        QStringList asked;
        QMessageBox::StandardButton answer = QMessageBox::Cancel;
        window.setDiscardQuestion([&](const QString& text) {
            asked << text;
            return answer;
        });
        window.show();
        // A run without steps holds nothing to lose.
        QVERIFY(window.close());
        QCOMPARE(asked.size(), 0);

        window.show();
        run->step(4);
        QVERIFY(wait_idle(*run));
        QVERIFY(run->hasUnsavedWork());
        QVERIFY(!window.close());
        QCOMPARE(asked.size(), 1);
        QVERIFY2(asked.first().contains("1 run holds steps") && asked.first().contains("quitting"),
                 qPrintable(asked.first()));
        QVERIFY(window.isVisible());
        QCOMPARE(run->lastStep(), qint64(4));

        answer = QMessageBox::Discard;
        QVERIFY(window.close());
        QCOMPARE(asked.size(), 2);
    }

    // Save in the question opens Save session; the run may go once the file is written, and stays
    // when that dialog is cancelled.
    void save_writes_the_session_before_the_run_goes() {
        MainWindow window(small_spec("linear"));
        SessionController* run = window.controller();
        QVERIFY(wait_idle(*run));
        run->step(3);
        QVERIFY(wait_idle(*run));
        window.setDiscardQuestion([](const QString&) { return QMessageBox::Save; });
        const QString path = dir_.filePath("asked.json");
        bool accept = false;
        int dialogs = 0;
        // The save dialog runs its own event loop: answer it from there once it is up.
        QTimer answer;
        answer.setInterval(10);
        connect(&answer, &QTimer::timeout, this, [&] {
            auto* dialog = qobject_cast<QFileDialog*>(QApplication::activeModalWidget());
            if (!dialog) return;
            ++dialogs;
            if (accept) {
                // selectFile leaves the name field alone once it has focus, so the name is typed there too.
                dialog->selectFile(path);
                auto* name = dialog->findChild<QLineEdit*>(QStringLiteral("fileNameEdit"));
                QVERIFY(name);
                name->setText(QFileInfo(path).fileName());
                static_cast<QDialog*>(dialog)->accept();
            } else {
                dialog->reject();
            }
        });
        answer.start();
        QVERIFY(!window.mayDiscardRun("quitting"));
        QCOMPARE(dialogs, 1);
        QVERIFY(run->hasUnsavedWork());
        accept = true;
        QVERIFY(window.mayDiscardRun("quitting"));
        QCOMPARE(dialogs, 2);
        QVERIFY(!run->hasUnsavedWork());
        QCOMPARE(session_from_file(path).steps, int64_t(3));
    }

    void saved_or_exported_runs_ask_nothing_until_they_step_again() {
        MainWindow window(small_spec("linear"));
        SessionController* run = window.controller();
        QVERIFY(wait_idle(*run));
        int asked = 0;
        window.setDiscardQuestion([&](const QString&) {
            ++asked;
            return QMessageBox::Cancel;
        });
        run->step(3);
        QVERIFY(wait_idle(*run));
        window.sessionIO()->saveSession(dir_.filePath("session.json"));
        QVERIFY(!run->hasUnsavedWork());
        QVERIFY(window.mayDiscardRun("quitting"));
        run->step(2);
        QVERIFY(wait_idle(*run));
        QVERIFY(!window.mayDiscardRun("quitting"));
        QCOMPARE(asked, 1);
        window.exporter()->exportTraces(dir_.filePath("traces.csv"));
        QVERIFY(window.mayDiscardRun("quitting"));
        QCOMPARE(asked, 1);
    }

    // Longer than the plots keep: the CSV still holds every step of every element, in order.
    void a_long_headless_export_writes_every_step() {
        HeadlessExport job;
        job.spec = small_spec("linear");
        job.steps = 3000;
        job.directory = dir_.filePath("long");
        job.width = 320;
        job.height = 200;
        run_headless_export(job);
        QFile csv(QDir(job.directory).filePath("traces.csv"));
        QVERIFY(csv.open(QIODevice::ReadOnly | QIODevice::Text));
        QCOMPARE(QString::fromUtf8(csv.readLine()).section(',', 0, 1), QString("step,batch"));
        int rows = 0;
        while (!csv.atEnd()) {
            const QStringList cells = QString::fromUtf8(csv.readLine()).split(',');
            QCOMPARE(cells[0].toInt(), rows / 3 + 1);
            QCOMPARE(cells[1].toInt(), rows % 3);
            ++rows;
        }
        QCOMPARE(rows, 3000 * 3);
        QCOMPARE(QImage(QDir(job.directory).filePath("outputs.png")).size(), QSize(320, 200));
    }

    void the_script_scrubs_back() {
        const GuiOptions options = parse_gui_arguments({"--steps", "9", "--scrub", "4", "--steps", "2"});
        QCOMPARE(options.actions.size(), size_t(3));
        QVERIFY(options.actions[1].command == CommandId::Scrub);
        QCOMPARE(options.actions[1].count, qint64(4));
        QVERIFY_THROWS_EXCEPTION(stepscope::Error, parse_gui_arguments({"--scrub", "four"}));
    }

private:
    QTemporaryDir dir_;
};

QTEST_MAIN(RunsSafeTest)
#include "test_ui_runs_safe.moc"
