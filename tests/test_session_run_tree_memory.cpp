// The memory of a run tree (issue 19): ten branches of 2,000 steps over one 10,000-step run of the seed
// example at batch 10 hold the long run plus the branches' own steps, nothing copied.
#include <QtTest>

#include <QFile>

#include <unistd.h>

#include "session/run_tree.h"
#include "session/session.h"
#include "session/session_spec.h"

using namespace stepscope;
using namespace stepscope::ui;

namespace {

constexpr int64_t kRootSteps = 10000;
constexpr int64_t kBranchSteps = 2000;
constexpr int kBranches = 10;

// Resident bytes of this process.
double resident_bytes() {
    QFile statm(QStringLiteral("/proc/self/statm"));
    if (!statm.open(QIODevice::ReadOnly)) return 0;
    const QList<QByteArray> fields = statm.readAll().split(' ');
    return fields.size() > 1 ? fields[1].toDouble() * double(sysconf(_SC_PAGESIZE)) : 0;
}

// `count` steps of `session` into `traces`, in the worker's batches.
void record(Session& session, TraceStore& traces, int64_t count) {
    std::vector<BatchRecord> batch;
    for (int64_t t = 0; t < count; ++t) {
        batch.push_back(session.advance());
        if (batch.size() == 256 || t + 1 == count) {
            traces.append(batch);
            batch.clear();
        }
    }
}

}  // namespace

class RunTreeMemoryTest : public QObject {
    Q_OBJECT

private slots:
    void branches_hold_only_their_own_steps() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        QSKIP("resident memory under a sanitizer is its shadow and quarantine, and 30,000 steps take too long");
#endif
        const SessionSpec spec = seed_example();
        QCOMPARE(spec.batch, 10);
        auto session = Session::open(spec);
        const double rss_start = resident_bytes();
        RunTree tree;
        Run& root = tree.add_root(1, session->info(), session->spec(), std::size_t(-1));
        record(*session, *root.traces, kRootSteps);
        const std::size_t root_bytes = root.traces->bytes();
        const double per_step = double(root_bytes) / double(kRootSteps);

        // Branches from the latest step back, so each rewind finds its checkpoints.
        std::size_t branch_own = 0;
        double copied_would_be = double(root_bytes);
        for (int b = kBranches; b >= 1; --b) {
            const int64_t at = b * (kRootSteps / (kBranches + 1));
            session->rewind(at);
            Run& branch = tree.add_branch(1 + b, 1, at, session->info(), session->spec(), std::size_t(-1));
            record(*session, *branch.traces, kBranchSteps);
            QCOMPARE(branch.traces->size(), int(at + kBranchSteps));
            QCOMPARE(branch.traces->own_size(), int(kBranchSteps));
            // The shared steps are the root's own records, not copies.
            QCOMPARE(branch.traces->records()[size_t(at - 1)].output.data(),
                     root.traces->records()[size_t(at - 1)].output.data());
            QCOMPARE(branch.traces->records()[0].output.data(), root.traces->records()[0].output.data());
            QCOMPARE(branch.traces->records()[size_t(at)].step, at + 1);
            branch_own += branch.traces->bytes();
            copied_would_be += per_step * double(at + kBranchSteps);
        }
        const double rss_end = resident_bytes();
        const double checkpoints = double(session->checkpoints().bytes());
        qInfo("root run: %lld steps, %.0f bytes (%.0f a step); 10 branches: %lld steps, %.0f bytes of their own",
              static_cast<long long>(kRootSteps), double(root_bytes), per_step,
              static_cast<long long>(kBranches * kBranchSteps), double(branch_own));
        qInfo("tree: %.0f bytes (root + branches' own: %.0f); copying the shared steps would take %.0f",
              double(tree.bytes()), double(root_bytes + branch_own), copied_would_be);
        qInfo("resident memory grew by %.0f bytes (checkpoints %.0f)", rss_end - rss_start, checkpoints);
        QCOMPARE(tree.bytes(), root_bytes + branch_own);
        // A branch's own steps cost what the root's steps cost, step for step.
        QVERIFY(double(branch_own) <= 1.05 * per_step * double(kBranches * kBranchSteps));
        QVERIFY(double(tree.bytes()) < 0.5 * copied_would_be);
        // The process holds the records counted and the checkpoints, within 10% and the allocator's slack.
        QVERIFY2(rss_end - rss_start <= 1.10 * double(tree.bytes()) + checkpoints + 64.0 * 1024 * 1024,
                 qPrintable(QString::number(rss_end - rss_start)));
    }
};

QTEST_GUILESS_MAIN(RunTreeMemoryTest)
#include "test_session_run_tree_memory.moc"
