// The engine's thread from the outside, Qt Core only: a SessionWorker in its QThread opened, stepped,
// cancelled mid-run, rewound through its checkpoints, reset and snapshotted by queued commands, while
// this thread takes its batches. Built with ThreadSanitizer by .ci/tsan.sh.
#include <QtTest>

#include <QTemporaryDir>
#include <QThread>

#include <tbb/global_control.h>

#include "session/session.h"
#include "session/session_worker.h"
#include "stepscope/state.h"

using namespace stepscope;
using namespace stepscope::ui;

namespace {

// 2 layers, 2 heads, 8/8 dimensions: steps of microseconds, so a long command is cancelled mid-run.
SessionSpec small_spec(const std::string& attention) {
    SessionSpec spec;
    spec.config.attention_type = attention;
    spec.config.n_layers = 2;
    spec.config.n_heads = 2;
    spec.config.query_dimensions = spec.config.value_dimensions = 8;
    spec.config.feed_forward_dimensions = 32;
    spec.weights_seed = 7;
    spec.input.kind = InputKind::Random;
    spec.input.seed = 11;
    spec.batch = 3;
    spec.sequence_seed = 5;
    return spec;
}

}  // namespace

class SessionThreadsTest : public QObject {
    Q_OBJECT
    QThread thread_;
    SessionWorker* worker_ = nullptr;
    QTemporaryDir dir_;
    // What this thread saw, through queued signals only.
    int64_t last_step_ = -1, records_ = 0, finished_ = 0, opened_ = 0, failures_ = 0, commands_ = 0;
    bool cancelled_ = false;

    template <typename Command>
    void post(Command command) {
        QMetaObject::invokeMethod(worker_, command, Qt::QueuedConnection);
    }

    bool idle(int64_t commands, int timeout_ms = 60000) {
        return QTest::qWaitFor([&] { return commands_ >= commands; }, timeout_ms);
    }

    // Steps run `run` (at step `from`) on `count` times.
    static StepOrder continued(int run, const SessionSpec& spec, int64_t from, int64_t count) {
        StepOrder order;
        order.run = run;
        order.from = from;
        order.spec = spec;
        order.sharing = {run};
        order.count = count;
        return order;
    }

    Checkpoint state_at(int64_t step) {
        Checkpoint result;
        SessionWorker* worker = worker_;
        QMetaObject::invokeMethod(
            worker_, [worker, step, &result] { result = worker->stateAt(step); }, Qt::BlockingQueuedConnection);
        return result;
    }

private slots:
    void initTestCase() {
        worker_ = new SessionWorker;
        worker_->moveToThread(&thread_);
        connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
        connect(worker_, &SessionWorker::runStarted, this, [this](int, int, qint64 branch_step) {
            ++opened_;
            last_step_ = branch_step;
        });
        connect(worker_, &SessionWorker::stepped, this, [this](const StepBatch& batch) {
            worker_->acknowledge();  // any thread may acknowledge
            records_ += int64_t(batch.records->size());
            last_step_ = batch.records->back().step;
        });
        connect(worker_, &SessionWorker::stepsFinished, this, [this](qint64, bool cancelled, const QString&) {
            ++finished_;
            cancelled_ = cancelled;
        });
        connect(worker_, &SessionWorker::failed, this, [this] { ++failures_; });
        connect(worker_, &SessionWorker::commandDone, this, [this] { ++commands_; });
        thread_.start();
    }

    void cleanupTestCase() {
        thread_.quit();
        thread_.wait();
    }

    void a_run_steps_rewinds_and_repeats_itself() {
        for (const std::string attention : {"linear", "full"}) {
            SessionWorker* worker = worker_;
            const uint64_t epoch = worker_->epoch();
            int64_t commands = commands_;
            const SessionSpec spec = small_spec(attention);
            post([worker, spec, epoch] { worker->open(spec, 1, epoch); });
            post([worker, spec, epoch] { worker->stepRun(continued(1, spec, 0, 300), epoch); });
            QVERIFY(idle(commands += 2));
            QCOMPARE(failures_, int64_t(0));
            QCOMPARE(last_step_, int64_t(300));
            const Checkpoint at_200 = state_at(200);
            // A branch of run 1 at 100 rewinds the live session there (it shares those steps) from a
            // checkpoint; stepping on to 200 gives the same state.
            StepOrder branch = continued(2, spec, 100, 100);
            branch.parent = 1;
            branch.sharing = {1};
            post([worker, branch, epoch] { worker->stepRun(branch, epoch); });
            QVERIFY(idle(++commands));
            QCOMPARE(worker_->liveRun(), 2);
            QCOMPARE(last_step_, int64_t(200));
            QVERIFY(state_at(200).state == at_200.state);
            // Run 1 stepped on again is rebuilt where it was (step 300), not where the branch is.
            post([worker, spec, epoch] { worker->stepRun(continued(1, spec, 300, 1), epoch); });
            QVERIFY(idle(++commands));
            QCOMPARE(last_step_, int64_t(301));
            // Snapshots and new runs go through the same queue.
            const QString snapshot = dir_.filePath(QString::fromStdString(attention) + ".safetensors");
            post([worker, snapshot, spec, epoch] {
                worker->saveSnapshot(snapshot, continued(1, spec, 301, 0), 150, epoch);
            });
            SessionSpec reset = spec;
            reset.sequence_seed = 9;
            post([worker, reset, epoch] { worker->open(reset, 3, epoch); });
            QVERIFY(idle(commands += 2));
            QVERIFY(QFileInfo::exists(snapshot));
            QCOMPARE(failures_, int64_t(0));
        }
    }

    // cancel() is called from this thread while the worker steps.
    void a_long_command_is_cancelled_from_another_thread() {
        SessionWorker* worker = worker_;
        const uint64_t epoch = worker_->epoch();
        const int64_t commands = commands_, records = records_;
        const int run = worker_->liveRun();
        const SessionSpec spec = small_spec("linear");
        post([worker, run, spec, epoch] { worker->stepRun(continued(run, spec, 0, 100000000), epoch); });
        QVERIFY(QTest::qWaitFor([&] { return records_ > records + 500; }, 60000));
        worker_->cancel();
        QVERIFY(idle(commands + 1));
        QVERIFY(cancelled_);
        // The run stays usable: a new command under the new epoch steps on.
        const uint64_t next = worker_->epoch();
        const int64_t before = last_step_;
        const int64_t from = before;
        post([worker, run, spec, next, from] { worker->stepRun(continued(run, spec, from, 5), next); });
        QVERIFY(idle(commands + 2));
        QCOMPARE(last_step_, before + 5);
    }
};

int main(int argc, char** argv) {
    // The engine's own thread pool on one thread: what is tested here is the worker's thread.
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    QCoreApplication app(argc, argv);
    SessionThreadsTest test;
    return QTest::qExec(&test, argc, argv);
}

#include "test_session_threads.moc"
