// Writing plots through QCustomPlot's own exporters, and traces as CSV with a header row.
#include "plot_export.h"

#include <QDir>
#include <QFileInfo>
#include <QSaveFile>
#include <QTemporaryFile>
#include <QTextStream>
#include <qcustomplot.h>

#include "atomic_files.h"
#include "plot_panel.h"
#include "plot_view.h"
#include "stepscope/error.h"
#include "trace_store.h"

namespace stepscope::ui {

namespace {

Error file_error(const QString& path, const QString& what) {
    return Error(QStringLiteral("%1: %2").arg(path, what).toStdString());
}

// Column names of one attention module's norms, matching the values `module_values` writes.
void module_header(QStringList& columns, const QString& prefix, const ModuleNorms& m) {
    if (!m.present) return;
    const QString first = m.is_linear ? QStringLiteral("S") : QStringLiteral("K");
    const QString second = m.is_linear ? QStringLiteral("Z") : QStringLiteral("V");
    for (size_t h = 0; h < m.first.size(); ++h) columns << QStringLiteral("%1_%2norm_h%3").arg(prefix, first).arg(h);
    for (size_t h = 0; h < m.second.size(); ++h) columns << QStringLiteral("%1_%2norm_h%3").arg(prefix, second).arg(h);
    if (!m.is_linear) columns << QStringLiteral("%1_cache_length").arg(prefix);
}

void module_values(QTextStream& out, const ModuleNorms& m) {
    if (!m.present) return;
    for (float v : m.first) out << ',' << v;
    for (float v : m.second) out << ',' << v;
    if (!m.is_linear) out << ',' << m.cache_length;
}

}  // namespace

// QCustomPlot writes only to a file name, so it renders into a private temporary file whose
// bytes then replace `path` atomically.
void save_plot(QCustomPlot* plot, const QString& path, int width, int height) {
    if (width < 16 || height < 16 || width > kMaxImageSide || height > kMaxImageSide)
        throw file_error(path, QStringLiteral("an image must be 16 to %1 pixels wide and high").arg(kMaxImageSide));
    const QFileInfo target(path);
    const QString suffix = target.suffix().toLower();
    if (!QStringList{"png", "jpg", "jpeg", "pdf"}.contains(suffix))
        throw file_error(path, QStringLiteral("unknown image format '%1' (png, jpg or pdf)").arg(suffix));
    QTemporaryFile rendered(target.absoluteDir().filePath(QStringLiteral(".stepscope-plot-XXXXXX.") + suffix));
    if (!rendered.open()) throw file_error(path, QStringLiteral("could not be written (%1)").arg(rendered.errorString()));
    rendered.close();
    const QString scratch = rendered.fileName();
    bool ok = false;
    if (suffix == "png") ok = plot->savePng(scratch, width, height);
    else if (suffix == "pdf") ok = plot->savePdf(scratch, width, height);
    else ok = plot->saveJpg(scratch, width, height, 1.0, 92);
    QFile image(scratch);
    if (!ok || !image.open(QIODevice::ReadOnly)) throw file_error(path, QStringLiteral("could not be written"));
    write_file_atomically(path, image.readAll());
}

QStringList write_all_plots(PlotPanel& panel, const QString& directory, const QString& format, int width, int height) {
    panel.refreshNow();
    QStringList written;
    for (PlotView* view : panel.plots()) {
        const QString path = QDir(directory).filePath(view->fileStem() + "." + format);
        save_plot(view->plot(), path, width, height);
        written << view->fileStem() + "." + format;
    }
    return written;
}

QStringList save_all_plots(PlotPanel& panel, const QString& directory, const QString& format, int width, int height) {
    StagedFolder folder(directory);
    QStringList written;
    for (const QString& name : write_all_plots(panel, folder.stagingFolder(), format, width, height))
        written << folder.finalPath(name);
    folder.commit();
    return written;
}

void write_traces_csv(const QString& path, const TraceStore& traces) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) throw file_error(path, file.errorString());
    QTextStream out(&file);
    out.setRealNumberPrecision(8);
    QStringList columns{"step", "latency_ms", "state_bytes", "output_norm"};
    const int width = traces.empty() ? traces.width() : int(traces.records().front().output.size());
    for (int d = 0; d < width; ++d) columns << QStringLiteral("y%1").arg(d);
    if (!traces.empty()) {
        const StepRecord& first = traces.records().front();
        for (size_t l = 0; l < first.layers.size(); ++l) {
            module_header(columns, QStringLiteral("L%1_self").arg(l), first.layers[l].self);
            module_header(columns, QStringLiteral("L%1_cross").arg(l), first.layers[l].cross);
        }
    }
    out << columns.join(',') << '\n';
    for (const StepRecord& r : traces.records()) {
        out << r.step << ',' << r.latency_ms << ',' << r.state_bytes << ',' << r.output_norm;
        for (float v : r.output) out << ',' << v;
        for (const LayerNorms& layer : r.layers) {
            module_values(out, layer.self);
            module_values(out, layer.cross);
        }
        out << '\n';
    }
    out.flush();
    if (out.status() != QTextStream::Ok || !file.commit()) throw file_error(path, file.errorString());
}

}  // namespace stepscope::ui
