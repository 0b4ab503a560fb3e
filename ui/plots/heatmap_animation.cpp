// Frames of the heatmap as the viewed step moves: GIF through GifWriter, MP4 through Debian's ffmpeg.
#include "plots/heatmap_animation.h"

#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <qcustomplot.h>

#include <algorithm>

#include "plots/attention_plot.h"
#include "plots/gif_writer.h"
#include "plots/plot_export.h"
#include "stepscope/error.h"

namespace stepscope::ui {

namespace {
constexpr int kFramesPerSecond = 10;

QString ffmpeg() { return QStandardPaths::findExecutable(QStringLiteral("ffmpeg")); }
}  // namespace

bool animation_format_available(const QString& suffix) {
    const QString s = suffix.toLower();
    return s == QLatin1String("gif") || (s == QLatin1String("mp4") && !ffmpeg().isEmpty());
}

QString animation_filter() {
    QString filter = QObject::tr("GIF animation (*.gif)");
    if (!ffmpeg().isEmpty()) filter += QObject::tr(";;MP4 video (*.mp4)");
    return filter;
}

int write_heatmap_animation(AttentionPlot& map, const QString& path, QSize size, int64_t first, int64_t last,
                            int max_frames) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (!animation_format_available(suffix))
        throw Error(QStringLiteral("%1: an animation is a .gif%2")
                        .arg(path, ffmpeg().isEmpty() ? QString() : " or .mp4")
                        .toStdString());
    if (last < first) throw Error(QStringLiteral("%1: no steps to animate").arg(path).toStdString());
    // Evenly spaced steps, the last one always.
    std::vector<int64_t> steps;
    const int64_t count = last - first + 1;
    const int frames = int(std::min<int64_t>(count, std::max(1, max_frames)));
    for (int i = 0; i < frames; ++i) steps.push_back(frames == 1 ? last : first + (count - 1) * i / (frames - 1));
    const int64_t shown = map.viewStep();
    const double scale = export_scale(size.width(), size.height());
    auto frame = [&](int64_t step) {
        map.setViewStep(step);
        map.refresh();
        return map.plot()->toPixmap(size.width(), size.height(), scale).toImage();
    };
    try {
        if (suffix == QLatin1String("gif")) {
            GifWriter gif(path, size.width(), size.height(), 100 / kFramesPerSecond);
            for (int64_t step : steps) gif.addFrame(frame(step));
            gif.finish();
        } else {
            QTemporaryDir dir;
            if (!dir.isValid()) throw Error("no temporary folder for the frames");
            for (size_t i = 0; i < steps.size(); ++i)
                frame(steps[i]).save(dir.filePath(QStringLiteral("frame%1.png").arg(i, 5, 10, QChar('0'))));
            // Written beside the target, then renamed into place, as every export is.
            const QString staged = QFileInfo(path).dir().filePath(
                QStringLiteral(".%1.partial.mp4").arg(QFileInfo(path).completeBaseName()));
            QProcess process;
            process.start(ffmpeg(), {QStringLiteral("-y"), QStringLiteral("-loglevel"), QStringLiteral("error"),
                                     QStringLiteral("-framerate"), QString::number(kFramesPerSecond),
                                     QStringLiteral("-i"), dir.filePath(QStringLiteral("frame%05d.png")),
                                     QStringLiteral("-vf"), QStringLiteral("scale=trunc(iw/2)*2:trunc(ih/2)*2"),
                                     QStringLiteral("-pix_fmt"), QStringLiteral("yuv420p"), staged});
            if (!process.waitForFinished(600000) || process.exitCode() != 0) {
                QFile::remove(staged);
                throw Error(QStringLiteral("%1: ffmpeg failed: %2")
                                .arg(path, QString::fromUtf8(process.readAllStandardError()).trimmed().left(200))
                                .toStdString());
            }
            QFile::remove(path);
            if (!QFile::rename(staged, path))
                throw Error(QStringLiteral("%1: cannot be written").arg(path).toStdString());
        }
    } catch (...) {
        map.setViewStep(shown);
        map.refresh();
        throw;
    }
    map.setViewStep(shown);
    map.refresh();
    return int(steps.size());
}

}  // namespace stepscope::ui
