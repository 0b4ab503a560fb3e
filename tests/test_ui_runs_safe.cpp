// Runs are never lost: a branch keeps the abandoned steps pinned, and replacing or closing a run with
// unsaved steps asks first.
#include <QStatusBar>
#include <QtTest>

#include "export_controller.h"
#include "main_window.h"
#include "plot_panel.h"
#include "session_io.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

class TestRunsSafe : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void steppingAfterScrubbingBackPinsTheAbandonedBranch() {
        MainWindow window(small_spec("full"));
        RunController* run = window.controller();
        QVERIFY(wait_idle(*run));
        run->step(30);
        QVERIFY(wait_idle(*run));
        const std::vector<StepRecord> before = run->traces().records();
        run->setViewStep(12);
        QSignalSpy branching(run, &RunController::branching);
        run->step(1);
        QVERIFY(wait_idle(*run));
        QCOMPARE(branching.size(), 1);
        QCOMPARE(run->lastStep(), qint64(13));

        const PlotPanel* plots = window.plotPanel();
        QVERIFY(plots->hasPinned());
        const TraceStore& pinned = plots->pinned();
        QCOMPARE(pinned.last_step(), qint64(30));
        QCOMPARE(pinned.size(), 30);
        for (size_t i = 0; i < before.size(); ++i)
            QVERIFY2(pinned.records()[i].output == before[i].output, qPrintable(QString("step %1").arg(i + 1)));
        const QString status = window.statusBar()->currentMessage();
        QVERIFY2(status.contains("Branched at step 12; the previous run (30 steps) is pinned"), qPrintable(status));
    }

    void steppingOnFromTheEndBranchesNothing() {
        MainWindow window(small_spec("linear"));
        RunController* run = window.controller();
        QVERIFY(wait_idle(*run));
        QSignalSpy branching(run, &RunController::branching);
        run->step(5);
        QVERIFY(wait_idle(*run));
        run->step(5);
        QVERIFY(wait_idle(*run));
        QCOMPARE(branching.size(), 0);
        QVERIFY(!window.plotPanel()->hasPinned());
    }

    void quittingWithUnsavedStepsAsks() {
        MainWindow window(small_spec("linear"));
        RunController* run = window.controller();
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
        QVERIFY2(asked.first().contains("4 steps") && asked.first().contains("quitting"), qPrintable(asked.first()));
        QVERIFY(window.isVisible());
        QCOMPARE(run->lastStep(), qint64(4));

        answer = QMessageBox::Discard;
        QVERIFY(window.close());
        QCOMPARE(asked.size(), 2);
    }

    void openingASessionOrSnapshotAsksAndCancelKeepsTheRun() {
        MainWindow window(small_spec("linear"));
        RunController* run = window.controller();
        QVERIFY(wait_idle(*run));
        run->step(3);
        QVERIFY(wait_idle(*run));
        QStringList asked;
        window.setDiscardQuestion([&](const QString& text) {
            asked << text;
            return QMessageBox::Cancel;
        });
        // Cancel returns before any file dialog opens.
        window.sessionIO()->openAction()->trigger();
        window.exporter()->openSnapshotAction()->trigger();
        QCOMPARE(asked.size(), 2);
        QVERIFY(asked[0].contains("opening a session"));
        QVERIFY(asked[1].contains("opening a snapshot"));
        QVERIFY(!window.mayDiscardRun("loading weights"));
        QCOMPARE(asked.size(), 3);
        QCOMPARE(run->lastStep(), qint64(3));
    }

    void savedOrExportedRunsAskNothingUntilTheyStepAgain() {
        MainWindow window(small_spec("linear"));
        RunController* run = window.controller();
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

private:
    QTemporaryDir dir_;
};

QTEST_MAIN(TestRunsSafe)
#include "test_ui_runs_safe.moc"
