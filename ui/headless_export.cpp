// The headless export: the GUI's Runner, TraceStore, plots and writers, driven synchronously.
#include "headless_export.h"

#include <QDir>

#include "plot_export.h"
#include "plot_panel.h"
#include "runner.h"
#include "stepscope/error.h"
#include "trace_store.h"

namespace stepscope::ui {

QStringList run_headless_export(const HeadlessExport& job, const std::function<void(const QString&)>& progress) {
    if (!QDir().mkpath(job.directory))
        throw Error(QStringLiteral("%1: cannot create the folder").arg(job.directory).toStdString());
    SessionSpec spec = job.spec;
    spec.steps = 0;
    auto runner = Runner::open(spec);
    TraceStore traces;
    traces.start(runner->info());
    std::vector<StepRecord> chunk;
    for (int64_t t = 0; t < job.steps; ++t) {
        chunk.push_back(runner->advance());
        if (chunk.size() == 256 || t + 1 == job.steps) {
            traces.append(chunk);
            chunk.clear();
            if (progress) progress(QStringLiteral("stepped %1 of %2").arg(t + 1).arg(job.steps));
        }
    }
    const QDir dir(job.directory);
    PlotPanel panel(&traces);
    panel.resize(job.width, job.height);
    panel.rebuildAll();
    panel.setViewStep(traces.last_step());
    QStringList written = save_all_plots(panel, job.directory, job.format, job.width, job.height);
    written << dir.filePath(QStringLiteral("traces.csv"));
    write_traces_csv(written.back(), traces);
    written << dir.filePath(QStringLiteral("snapshot.safetensors"));
    runner->save_snapshot(written.back(), runner->step());
    written << dir.filePath(QStringLiteral("session.json"));
    write_session_file(written.back(), runner->spec());
    return written;
}

}  // namespace stepscope::ui
