// Plot images (PNG, JPG, PDF at a chosen size): the files both the GUI and `stepscope export` write.
#pragma once

#include <QString>
#include <QStringList>

#include <vector>

class QCustomPlot;

namespace stepscope::ui {

class PlotPanel;

constexpr int kMaxImageSide = 8192;

// The image formats a plot exports to: the one list that save_plot, the export dialogs and
// `stepscope export --format` read. A new format is one entry in plot_export.cpp with its writer.
struct ImageFormat {
    QString suffix;       // "png": the file suffix and the --format value
    QString description;  // "PNG image", for file dialogs
};
const std::vector<ImageFormat>& image_formats();
// The suffixes in order: png, svg, pdf, jpg.
QStringList image_format_suffixes();
// "PNG image (*.png);;SVG image (*.svg);;..." for a file dialog.
QString image_format_filter();
// "png, svg, pdf or jpg", for messages.
QString image_format_choices();

// How much larger than on screen a width x height export draws text and lines, so a large export is
// a larger figure rather than a smaller font: 1 up to 1200 x 800, then in proportion.
double export_scale(int width, int height);

// Writes `plot` to `path` atomically in the format its suffix names (image_formats(), and jpeg), width
// x height pixels, text and lines drawn `scale` times their screen size (0: export_scale). Throws
// stepscope::Error naming the file when the suffix is unknown or writing fails.
void save_plot(QCustomPlot* plot, const QString& path, int width, int height, double scale = 0);

// Every plot of the panel into the existing folder `directory` as <stem>.<format>, each file
// atomically, but the heatmap only when it holds weights; returns the file names written.
QStringList write_all_plots(PlotPanel& panel, const QString& directory, const QString& format, int width, int height);
// The files write_all_plots could write for any run, in any format: what an export into a folder replaces.
QStringList plot_file_names(const PlotPanel& panel);

// write_all_plots into `directory` as one StagedFolder: all of them, or none with the folder left
// as it was. Returns the paths written.
QStringList save_all_plots(PlotPanel& panel, const QString& directory, const QString& format, int width, int height);

// Writes `text` to `path` through a temporary file. Throws stepscope::Error when it cannot.
void write_text_file(const QString& path, const QString& text);

}  // namespace stepscope::ui
