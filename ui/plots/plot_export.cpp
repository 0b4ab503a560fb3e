// Writing plots through QCustomPlot's own exporters.
#include "plots/plot_export.h"

#include <qcustomplot.h>
#include <QBuffer>
#include <QDir>
#include <QFileInfo>
#include <QImageWriter>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QTemporaryFile>

#include <algorithm>
#include <cmath>

#include "plots/attention_plot.h"
#include "plots/plot_panel.h"
#include "plots/plot_style.h"
#include "plots/plot_view.h"
#include "session/atomic_files.h"
#include "stepscope/error.h"

namespace stepscope::ui {

namespace {

Error file_error(const QString& path, const QString& what) {
    return Error(QStringLiteral("%1: %2").arg(path, what).toStdString());
}

}  // namespace

double export_scale(int width, int height) { return std::max(1.0, std::min(width / 1200.0, height / 800.0)); }

namespace {

// The plot laid out at width x height logical pixels (legend columns, title), drawn by `paint`,
// then laid out for the screen again.
template <typename Paint>
void draw_at(QCustomPlot* plot, int width, int height, Paint paint) {
    fit_decorations(plot, width, height);
    paint(width, height);
    fit_decorations(plot, plot->width(), plot->height());
}

void save_image(QCustomPlot* plot, const QString& path, const QByteArray& format, int width, int height, double scale) {
    QImage image(width, height, QImage::Format_RGB32);
    image.fill(Qt::white);
    draw_at(plot, int(std::ceil(width / scale)), int(std::ceil(height / scale)), [&](int w, int h) {
        QCPPainter painter(&image);
        painter.setMode(QCPPainter::pmNoCaching);
        if (scale > 1) painter.setMode(QCPPainter::pmNonCosmetic);
        painter.scale(scale, scale);
        plot->toPainter(&painter, w, h);
    });
    // Physical size as on screen: a 4000 px export at scale 3.3 says so in its DPI. Set after
    // drawing, as fonts in points follow an image's DPI and would grow twice.
    const int dots_per_meter = int(std::lround(96.0 * scale / 0.0254));
    image.setDotsPerMeterX(dots_per_meter);
    image.setDotsPerMeterY(dots_per_meter);
    // Encoded in memory, then written: a full disk is then one error of ours, never libpng's own
    // line on stderr and an "Unknown error".
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    QImageWriter writer(&buffer, format);
    if (format == "jpg") writer.setQuality(92);
    if (!writer.write(image)) throw file_error(path, writer.errorString());
    write_file_atomically(path, bytes);
}

void save_svg(QCustomPlot* plot, const QString& path, int width, int height, double scale) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) throw file_error(path, file.errorString());
    QSvgGenerator svg;
    svg.setOutputDevice(&file);
    svg.setSize(QSize(width, height));
    svg.setViewBox(QRect(0, 0, width, height));
    svg.setTitle(plot->property("fullTitle").toString());
    // Points convert to pixels as on screen; the painter's scale alone enlarges the figure.
    svg.setResolution(96);
    draw_at(plot, int(std::ceil(width / scale)), int(std::ceil(height / scale)), [&](int w, int h) {
        QCPPainter painter(&svg);
        painter.setMode(QCPPainter::pmVectorized);
        painter.setMode(QCPPainter::pmNoCaching);
        painter.setMode(QCPPainter::pmNonCosmetic);
        painter.scale(scale, scale);
        plot->toPainter(&painter, w, h);
    });
    if (!file.commit()) throw file_error(path, QStringLiteral("cannot write (%1)").arg(write_failure(file, path)));
}

// A PDF is vector: its page is the figure at screen scale, which a viewer enlarges. QCustomPlot
// writes a PDF only to a file name, so it renders into a private temporary file whose bytes then
// replace `path` atomically.
void save_pdf(QCustomPlot* plot, const QString& path, int width, int height, double scale) {
    QTemporaryFile rendered(QFileInfo(path).absoluteDir().filePath(QStringLiteral(".stepscope-plot-XXXXXX.pdf")));
    if (!rendered.open())
        throw file_error(path, QStringLiteral("could not be written (%1)").arg(rendered.errorString()));
    rendered.close();
    bool ok = false;
    draw_at(plot, int(std::ceil(width / scale)), int(std::ceil(height / scale)),
            [&](int w, int h) { ok = plot->savePdf(rendered.fileName(), w, h); });
    QFile image(rendered.fileName());
    if (!ok || !image.open(QIODevice::ReadOnly)) throw file_error(path, QStringLiteral("could not be written"));
    write_file_atomically(path, image.readAll());
}

using PlotWriter = void (*)(QCustomPlot* plot, const QString& path, int width, int height, double scale);

struct FormatWriter {
    ImageFormat format;
    PlotWriter write;
};

const std::vector<FormatWriter>& format_writers() {
    static const std::vector<FormatWriter> writers = {
        {{QStringLiteral("png"), QStringLiteral("PNG image")},
         [](QCustomPlot* p, const QString& f, int w, int h, double s) { save_image(p, f, "png", w, h, s); }},
        {{QStringLiteral("svg"), QStringLiteral("SVG image")}, save_svg},
        {{QStringLiteral("pdf"), QStringLiteral("PDF")}, save_pdf},
        {{QStringLiteral("jpg"), QStringLiteral("JPEG image")},
         [](QCustomPlot* p, const QString& f, int w, int h, double s) { save_image(p, f, "jpg", w, h, s); }},
    };
    return writers;
}

}  // namespace

const std::vector<ImageFormat>& image_formats() {
    static const std::vector<ImageFormat> formats = [] {
        std::vector<ImageFormat> out;
        for (const FormatWriter& writer : format_writers()) out.push_back(writer.format);
        return out;
    }();
    return formats;
}

QStringList image_format_suffixes() {
    QStringList suffixes;
    for (const ImageFormat& format : image_formats()) suffixes << format.suffix;
    return suffixes;
}

QString image_format_filter() {
    QStringList filters;
    for (const ImageFormat& format : image_formats())
        filters << QStringLiteral("%1 (*.%2)").arg(format.description, format.suffix);
    return filters.join(QStringLiteral(";;"));
}

QString image_format_choices() {
    QStringList suffixes = image_format_suffixes();
    const QString last = suffixes.takeLast();
    return suffixes.join(QStringLiteral(", ")) + QStringLiteral(" or ") + last;
}

void save_plot(QCustomPlot* plot, const QString& path, int width, int height, double scale) {
    if (width < 16 || height < 16 || width > kMaxImageSide || height > kMaxImageSide)
        throw file_error(path, QStringLiteral("an image must be 16 to %1 pixels wide and high").arg(kMaxImageSide));
    if (scale <= 0) scale = export_scale(width, height);
    QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QStringLiteral("jpeg")) suffix = QStringLiteral("jpg");
    for (const FormatWriter& writer : format_writers()) {
        if (writer.format.suffix == suffix) {
            writer.write(plot, path, width, height, scale);
            return;
        }
    }
    throw file_error(path, QStringLiteral("unknown image format '%1' (%2)").arg(suffix, image_format_choices()));
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

QStringList plot_file_names(const PlotPanel& panel) {
    QStringList names;
    for (PlotView* view : panel.allPlots())
        for (const QString& suffix : image_format_suffixes()) names << view->fileStem() + "." + suffix;
    return names;
}

QStringList save_all_plots(PlotPanel& panel, const QString& directory, const QString& format, int width, int height) {
    StagedFolder folder(directory);
    folder.replaceSet(plot_file_names(panel));
    QStringList written;
    for (const QString& name : write_all_plots(panel, folder.stagingFolder(), format, width, height))
        written << folder.finalPath(name);
    folder.commit();
    return written;
}

void write_text_file(const QString& path, const QString& text) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) throw file_error(path, file.errorString());
    if (file.write(text.toUtf8()) < 0 || !file.commit()) throw file_error(path, file.errorString());
}

}  // namespace stepscope::ui
