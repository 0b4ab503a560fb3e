// The output of a token model step by step: the input token, the top predictions with their
// probabilities, the task's answer marked right or wrong, the running accuracy, and for recall
// each stored pair read back through the state.
#pragma once

#include <QWidget>

#include <cstdint>

#include "session/trace_store.h"
#include "session/view_recompute.h"

class QLabel;
class QTableWidget;

namespace stepscope::ui {

class TokenView : public QWidget {
    Q_OBJECT

public:
    explicit TokenView(const TraceStore* current, QWidget* parent = nullptr);
    // The viewed run's records (another run was selected).
    void setStore(const TraceStore* current) { current_ = current; }

    // The table and summary again from the store, at once: a new run, element, branch or step viewed.
    void rebuild();
    // The viewed step (-1: the last), shown at the next rebuild().
    void setViewStep(int64_t step);
    // Recall: the viewed step's stored pairs read back, when they were not while stepping.
    ViewRequest missingObservations() const;
    // Where the read-back is still being computed, or why not (PlotPanel sets it).
    void setComputeNote(const QString& note);
    // What the summary says ("Accuracy 14/16 = 0.875 ..."), for tests and the status bar.
    QString summary() const;
    const QTableWidget* steps() const { return steps_; }
    const QTableWidget* retrieval() const { return retrieval_; }

protected:
    // The table ends at the viewed step: it scrolls there once laid out.
    void showEvent(QShowEvent* event) override;

private:
    // The index of the record viewed, or -1 when the run has none.
    int viewedIndex() const;
    void fillSteps(int last);
    void fillRetrieval(const StepRecord* record);

    const TraceStore* current_;
    int64_t view_step_ = -1;
    QString compute_note_;
    QLabel* summary_;
    QTableWidget* steps_;
    QWidget* retrieval_side_;  // shown for the recall task only
    QLabel* retrieval_summary_;
    QTableWidget* retrieval_;
};

// One step's predictions as text: "v7 0.92 · v3 0.03 · ...".
QString predictions_text(const TokenModel& model, const TokenPrediction& prediction);

}  // namespace stepscope::ui
