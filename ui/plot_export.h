// Plot images (PNG, JPG, PDF at a chosen size): the files both the GUI and `stepscope export` write.
#pragma once

#include <QString>
#include <QStringList>

class QCustomPlot;

namespace stepscope::ui {

class PlotPanel;

constexpr int kMaxImageSide = 8192;

// Writes `plot` to `path` atomically in the format its suffix names (png, jpg, jpeg, pdf), width x
// height pixels. Throws stepscope::Error naming the file when the suffix is unknown or writing fails.
void save_plot(QCustomPlot* plot, const QString& path, int width, int height);

// Every plot of the panel into the existing folder `directory` as <stem>.<format>, each file
// atomically; returns the file names written.
QStringList write_all_plots(PlotPanel& panel, const QString& directory, const QString& format, int width, int height);

// write_all_plots into `directory` as one StagedFolder: all of them, or none with the folder left
// as it was. Returns the paths written.
QStringList save_all_plots(PlotPanel& panel, const QString& directory, const QString& format, int width, int height);

}  // namespace stepscope::ui
