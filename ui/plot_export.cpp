// Writing plots through QCustomPlot's own exporters, and traces as CSV with a header row.
#include "plot_export.h"

#include <QDir>
#include <QFileInfo>
#include <QImageWriter>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QTextStream>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "attention_plot.h"
#include "plot_panel.h"
#include "plot_style.h"
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
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) throw file_error(path, file.errorString());
    QImageWriter writer(&file, format);
    if (format == "jpg") writer.setQuality(92);
    if (!writer.write(image)) throw file_error(path, writer.errorString());
    if (!file.commit()) throw file_error(path, file.errorString());
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
    if (!file.commit()) throw file_error(path, file.errorString());
}

}  // namespace

void save_plot(QCustomPlot* plot, const QString& path, int width, int height, double scale) {
    if (width < 16 || height < 16 || width > kMaxImageSide || height > kMaxImageSide)
        throw file_error(path, QStringLiteral("an image must be 16 to %1 pixels wide and high").arg(kMaxImageSide));
    if (scale <= 0) scale = export_scale(width, height);
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == "png") save_image(plot, path, "png", width, height, scale);
    else if (suffix == "jpg" || suffix == "jpeg") save_image(plot, path, "jpg", width, height, scale);
    else if (suffix == "svg") save_svg(plot, path, width, height, scale);
    else if (suffix == "pdf") {
        // A PDF is vector: its page is the figure at screen scale, which a viewer enlarges.
        bool ok = false;
        draw_at(plot, int(std::ceil(width / scale)), int(std::ceil(height / scale)),
                [&](int w, int h) { ok = plot->savePdf(path, w, h); });
        if (!ok) throw file_error(path, QStringLiteral("could not be written"));
    } else
        throw file_error(path, QStringLiteral("unknown image format '%1' (png, jpg, svg or pdf)").arg(suffix));
}

QStringList save_all_plots(PlotPanel& panel, const QString& directory, const QString& format, int width, int height) {
    if (!QDir().mkpath(directory)) throw file_error(directory, QStringLiteral("cannot create the folder"));
    panel.refreshNow();
    QStringList written;
    for (PlotView* view : panel.plots()) {
        // A heatmap with only its note ("linear attention has no attention matrix") is no figure.
        if (view == panel.attention() && !panel.attention()->hasWeights()) continue;
        const QString path = QDir(directory).filePath(view->fileStem() + "." + format);
        save_plot(view->plot(), path, width, height);
        written << path;
    }
    return written;
}

void write_text_file(const QString& path, const QString& text) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) throw file_error(path, file.errorString());
    if (file.write(text.toUtf8()) < 0 || !file.commit()) throw file_error(path, file.errorString());
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
