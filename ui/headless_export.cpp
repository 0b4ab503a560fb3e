// The headless export: the GUI's Runner, TraceStore, plots and writers, driven synchronously.
#include "headless_export.h"

#include "atomic_files.h"
#include "plot_export.h"
#include "plot_panel.h"
#include "runner.h"
#include "trace_store.h"

namespace stepscope::ui {

QStringList run_headless_export(const HeadlessExport& job, const std::function<void(const QString&)>& progress) {
    // Staged before stepping, so an unusable folder is named before a long run.
    StagedFolder folder(job.directory);
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
    PlotPanel panel(&traces);
    panel.resize(job.width, job.height);
    panel.rebuildAll();
    panel.setViewStep(traces.last_step());
    QStringList names = write_all_plots(panel, folder.stagingFolder(), job.format, job.width, job.height);
    names << QStringLiteral("traces.csv") << QStringLiteral("snapshot.safetensors") << QStringLiteral("session.json");
    write_traces_csv(folder.stagedPath(QStringLiteral("traces.csv")), traces);
    runner->save_snapshot(folder.stagedPath(QStringLiteral("snapshot.safetensors")), runner->step());
    write_session_file(folder.stagedPath(QStringLiteral("session.json")), runner->spec());
    folder.commit();
    QStringList written;
    for (const QString& name : names) written << folder.finalPath(name);
    return written;
}

}  // namespace stepscope::ui
