// Writing plots through QCustomPlot's own exporters.
#include "plot_export.h"

#include <QDir>
#include <QFileInfo>
#include <qcustomplot.h>

#include "plot_panel.h"
#include "plot_view.h"
#include "stepscope/error.h"

namespace stepscope::ui {

namespace {

Error file_error(const QString& path, const QString& what) {
    return Error(QStringLiteral("%1: %2").arg(path, what).toStdString());
}

}  // namespace

void save_plot(QCustomPlot* plot, const QString& path, int width, int height) {
    if (width < 16 || height < 16 || width > kMaxImageSide || height > kMaxImageSide)
        throw file_error(path, QStringLiteral("an image must be 16 to %1 pixels wide and high").arg(kMaxImageSide));
    const QString suffix = QFileInfo(path).suffix().toLower();
    bool ok = false;
    if (suffix == "png") ok = plot->savePng(path, width, height);
    else if (suffix == "jpg" || suffix == "jpeg") ok = plot->saveJpg(path, width, height, 1.0, 92);
    else if (suffix == "pdf") ok = plot->savePdf(path, width, height);
    else throw file_error(path, QStringLiteral("unknown image format '%1' (png, jpg or pdf)").arg(suffix));
    if (!ok) throw file_error(path, QStringLiteral("could not be written"));
}

QStringList save_all_plots(PlotPanel& panel, const QString& directory, const QString& format, int width, int height) {
    if (!QDir().mkpath(directory)) throw file_error(directory, QStringLiteral("cannot create the folder"));
    panel.refreshNow();
    QStringList written;
    for (PlotView* view : panel.plots()) {
        const QString path = QDir(directory).filePath(view->fileStem() + "." + format);
        save_plot(view->plot(), path, width, height);
        written << path;
    }
    return written;
}

}  // namespace stepscope::ui
