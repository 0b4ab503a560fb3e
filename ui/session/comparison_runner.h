// Evaluates model files for the Compare-models view on a thread of its own, so neither the window nor
// the run's worker waits for it; the curves are the engine's (stepscope/model_comparison.h), the same
// that `stepscope eval --compare` prints and draws.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>
#include <QThread>

#include <atomic>
#include <cstdint>

#include "stepscope/model_comparison.h"

namespace stepscope::ui {

class ComparisonRunner : public QObject {
    Q_OBJECT

public:
    explicit ComparisonRunner(QObject* parent = nullptr);
    // Cancels what is in flight and waits for the thread.
    ~ComparisonRunner() override;

    // Evaluates `paths` one after another; an evaluation in flight stops at its next step first.
    void evaluate(const QStringList& paths);
    void cancel() { ++epoch_; }
    // True from evaluate() until `finished`.
    bool busy() const { return pending_ > 0; }

signals:
    // Model `index` of `count` is `done` of `total` sequence-steps through its evaluation set.
    void progress(int index, int count, qint64 done, qint64 total);
    void evaluated(const QString& path, const stepscope::ComparedModel& curve);
    // The file could not be evaluated (no token head, no stored set, unreadable): one line why.
    void failed(const QString& path, const QString& message);
    // The paths of one evaluate() are done, or it was cancelled.
    void finished(bool cancelled);

private:
    QThread thread_;
    QObject* worker_;  // lives in thread_: the queued evaluations run in its context
    std::atomic<uint64_t> epoch_{0};
    int pending_ = 0;  // evaluate() calls not yet finished, counted on the UI thread
};

}  // namespace stepscope::ui

Q_DECLARE_METATYPE(stepscope::ComparedModel)
