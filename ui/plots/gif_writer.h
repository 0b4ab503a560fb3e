// Animated GIF (GIF89a) frames written one by one: Qt reads GIFs but writes none, and ffmpeg may be absent.
#pragma once

#include <QSaveFile>
#include <QHash>
#include <QImage>
#include <QString>
#include <QVector>

namespace stepscope::ui {

// Frames share one 256-colour palette made for plots: 96 viridis shades (the heatmaps), the
// 5 x 5 x 5 colour cube, and 35 greys (text, axes, background); each pixel takes the nearest.
// Usage: GifWriter gif(path, w, h, delay); gif.addFrame(image)...; gif.finish(). Throws stepscope::Error
// naming the file when it cannot be written.
class GifWriter {
public:
    // `delay_cs`: how long each frame shows, in hundredths of a second. Loops forever.
    GifWriter(const QString& path, int width, int height, int delay_cs);
    ~GifWriter();
    GifWriter(const GifWriter&) = delete;
    GifWriter& operator=(const GifWriter&) = delete;

    // Scales `image` to the writer's size when it differs.
    void addFrame(const QImage& image);
    // Writes the trailer and puts the file in place (written under a temporary name until then); a
    // writer destroyed before finishing leaves no file.
    void finish();
    int frames() const { return frames_; }
    static const QVector<QRgb>& palette();

private:
    uchar index(QRgb rgb);
    void write(const QByteArray& bytes);

    QSaveFile file_;
    int width_, height_, delay_;
    int frames_ = 0;
    bool finished_ = false;
    QHash<QRgb, uchar> nearest_;  // colours met so far and their palette entry
};

}  // namespace stepscope::ui
