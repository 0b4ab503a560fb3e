// `stepscope export` without a display: run a session N steps, then write plots, traces, snapshot and session.
#pragma once

#include <QString>
#include <QStringList>

#include <cstddef>
#include <cstdint>
#include <functional>

#include "session/session_spec.h"

namespace stepscope::ui {

// The plots of a long export draw about this many steps (and every step of the heatmap's window):
// more than an image has pixels across, and a bounded memory however long the run.
constexpr std::size_t kHeadlessPlottedSteps = 2048;
// Records go to the plots' store in chunks of this many steps, as they reach the GUI.
constexpr std::size_t kHeadlessChunk = 256;

struct HeadlessExport {
    SessionSpec spec;  // its own `steps` are replaced by `steps`
    int64_t steps = 0;
    QString directory;
    QString format = QStringLiteral("png");
    int width = 1200;
    int height = 800;
    // Asked between steps: true stops the export with Error "interrupted", its staging folder removed
    // (the command sets it from SIGINT and SIGTERM).
    std::function<bool()> interrupted;
};

// Needs a QApplication (the plots are widgets; the offscreen platform will do). Writes
// <stem>.<format> per plot (for linear attention also its spectrum and capacity), traces.csv, snapshot.safetensors and
// session.json into the directory as one StagedFolder; returns the paths. Throws stepscope::Error naming what failed,
// and then the directory is exactly as it was (or still absent). The traces go to disk as the run
// steps, so memory stays flat however long the run; plots of runs longer than a few thousand steps
// draw every k-th step (and every step of the heatmap's window).
QStringList run_headless_export(const HeadlessExport& job, const std::function<void(const QString&)>& progress = {});

}  // namespace stepscope::ui
