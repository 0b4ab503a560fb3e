// The traces CSV, long format: one row per step and batch element, written as the records come.
//
//   TraceCsvWriter csv(path, traces);  // nothing is in place at `path` until commit()
//   csv.write(record);                 // every batch element of one step
//   csv.commit();
//
// Columns: step, batch, latency_ms, state_bytes, output_norm, y0 .. y{E-1}, then per layer and
// attention module the state norms per head, named by the kind's components (L0_self_Snorm_h0 ..,
// L0_self_Znorm_h0 .., or L0_self_Knorm_h0 .. and, for a state that grows, L0_self_cache_length). A token model's run
// adds, per row, the input step's tokens, the most probable next token and its probability, and the task's answer, its
// probability and whether the prediction was right (empty where nothing is scored): token, prediction, p_prediction,
// answer, p_answer, right.
#pragma once

#include <QSaveFile>
#include <QString>
#include <QTextStream>

#include "session/step_record.h"
#include "stepscope/attention_kind.h"

namespace stepscope::ui {

class TraceStore;

class TraceCsvWriter {
public:
    // Opens a temporary file beside `path` for the records of `traces`' run: its width (E) names the y columns,
    // its kinds the norms' columns and its token model the token columns.
    // Throws stepscope::Error naming the file when it cannot be created.
    TraceCsvWriter(const QString& path, const TraceStore& traces);

    void write(const BatchRecord& record);
    // Moves the file into place. Throws stepscope::Error naming the file when writing failed.
    void commit();

private:
    void write_header(const BatchRecord* first);

    QString path_;
    int width_;
    std::shared_ptr<const TokenModel> tokens_;
    const AttentionCapabilities* self_kind_ = nullptr;   // null: a store with no run
    const AttentionCapabilities* cross_kind_ = nullptr;  // null: an encoder's
    QSaveFile file_;
    QTextStream out_;
    bool header_written_ = false;
};

// Every record of `traces`, all batch elements. Throws stepscope::Error when the file cannot be written.
void write_traces_csv(const QString& path, const TraceStore& traces);

}  // namespace stepscope::ui
