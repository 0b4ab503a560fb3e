// The headless export: the GUI's Session, TraceStore, plots and writers, driven synchronously.
#include "headless_export.h"

#include <QDir>

#include <algorithm>

#include "plots/capacity_plot.h"
#include "plots/plot_export.h"
#include "plots/plot_panel.h"
#include "plots/spectrum_plot.h"
#include "session/atomic_files.h"
#include "session/session.h"
#include "session/trace_csv.h"
#include "session/trace_store.h"
#include "stepscope/error.h"

namespace stepscope::ui {

namespace {

QStringList export_into(StagedFolder& folder, const HeadlessExport& job,
                        const std::function<void(const QString&)>& progress);

}  // namespace

QStringList run_headless_export(const HeadlessExport& job, const std::function<void(const QString&)>& progress) {
    // Staged before stepping, so an unusable folder is named before a long run.
    StagedFolder folder(job.directory);
    try {
        return export_into(folder, job, progress);
    } catch (const Error& e) {
        // A file that could not be written is named where it was going, not in the staging folder,
        // which is gone by the time the message is read.
        QString message = QString::fromStdString(e.what());
        message.replace(folder.stagingFolder(), QDir::cleanPath(job.directory));
        throw Error(message.toStdString());
    }
}

namespace {

QStringList export_into(StagedFolder& folder, const HeadlessExport& job,
                        const std::function<void(const QString&)>& progress) {
    SessionSpec spec = job.spec;
    spec.steps = 0;
    auto session = Session::open(spec);
    session->set_rewindable(false);
    TraceStore traces;
    traces.start(session->info());
    traces.keep_at_most(kHeadlessPlottedSteps);
    // Every step goes to the CSV as it is taken: the traces on disk, not in memory.
    TraceCsvWriter csv(folder.stagedPath(QStringLiteral("traces.csv")), traces);
    // The panel exists before the steps: its heatmap names the layer whose implicit map linear
    // attention needs looked inside. The heatmap keeps the last kAttentionWindow queries over their
    // last kAttentionWindow keys, so looking inside starts that many steps earlier still.
    PlotPanel panel(&traces);
    panel.resize(job.width, job.height);
    panel.rebuildAll();
    // A state with a spectrum is looked inside for the whole run too, at the spectrum view's layer:
    // its spectrum at the last step and the effective rank of S over every step are plots of their own.
    const int spectrum_layer = panel.spectrum()->layer();
    panel.capacity()->select(AttentionRole::Self, spectrum_layer, CapacityPlot::Quantity::EffectiveRank);
    auto with_spectrum = [&](ObservationOptions what) {
        if (!traces.kind(AttentionRole::Self).spectrum) return what;
        if (std::find(what.layers.begin(), what.layers.end(), spectrum_layer) == what.layers.end())
            what.layers.push_back(spectrum_layer);
        what.spectrum = true;
        return what;
    };
    session->set_observation(with_spectrum({}));
    const int64_t observe_from = std::max<int64_t>(0, job.steps - 2 * int64_t(kAttentionWindow));
    std::vector<BatchRecord> chunk;
    for (int64_t t = 0; t < job.steps; ++t) {
        if (job.interrupted && job.interrupted()) throw Error("interrupted; the folder is as it was");
        if (t == observe_from) session->set_observation(with_spectrum(panel.observation()));
        chunk.push_back(session->advance());
        csv.write(chunk.back());
        if (chunk.size() == kHeadlessChunk || t + 1 == job.steps) {
            traces.append(chunk);
            chunk.clear();
            if (progress) progress(QStringLiteral("stepped %1 of %2").arg(t + 1).arg(job.steps));
        }
    }
    panel.rebuildAll();
    panel.setViewStep(traces.last_step());
    QStringList names = write_all_plots(panel, folder.stagingFolder(), job.format, job.width, job.height);
    names << QStringLiteral("traces.csv") << QStringLiteral("snapshot.safetensors") << QStringLiteral("session.json");
    // An earlier export into the folder (another model, another format) leaves none of its files.
    QStringList set = plot_file_names(panel);
    set << QStringLiteral("traces.csv") << QStringLiteral("snapshot.safetensors") << QStringLiteral("session.json");
    folder.replaceSet(set);
    csv.commit();
    session->save_snapshot(folder.stagedPath(QStringLiteral("snapshot.safetensors")), session->current_step());
    write_session_file(folder.stagedPath(QStringLiteral("session.json")), session->spec());
    folder.commit();
    QStringList written;
    for (const QString& name : names) written << folder.finalPath(name);
    return written;
}

}  // namespace

}  // namespace stepscope::ui
