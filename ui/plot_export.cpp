// Writing plots through QCustomPlot's own exporters.
#include "plot_export.h"

#include <QDir>
#include <QFileInfo>
#include <QSaveFile>
#include <QTemporaryFile>
#include <qcustomplot.h>

#include "atomic_files.h"
#include "plot_panel.h"
#include "plot_view.h"
#include "stepscope/error.h"

namespace stepscope::ui {

namespace {

Error file_error(const QString& path, const QString& what) {
    return Error(QStringLiteral("%1: %2").arg(path, what).toStdString());
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

}  // namespace stepscope::ui
