// A GIF89a encoder: a global palette, the NETSCAPE loop extension, and LZW-coded frames (as gif.h codes them).
#include "plots/gif_writer.h"

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "plots/plot_style.h"
#include "stepscope/error.h"

namespace stepscope::ui {

namespace {

Error gif_error(const QString& path, const QString& why) {
    return Error(QStringLiteral("%1: %2").arg(path, why).toStdString());
}

void put16(QByteArray& out, int v) {
    out.append(char(v & 0xff));
    out.append(char((v >> 8) & 0xff));
}

// LZW codes of variable width, least significant bit first, in sub-blocks of at most 255 bytes.
class CodeWriter {
public:
    void put(int code, int bits) {
        buffer_ |= uint32_t(code) << filled_;
        filled_ += bits;
        while (filled_ >= 8) {
            bytes_.append(char(buffer_ & 0xff));
            buffer_ >>= 8;
            filled_ -= 8;
        }
    }
    QByteArray blocks() {
        if (filled_ > 0) bytes_.append(char(buffer_ & 0xff));
        QByteArray out;
        for (int i = 0; i < bytes_.size(); i += 255) {
            const int n = std::min(255, int(bytes_.size()) - i);
            out.append(char(n));
            out.append(bytes_.constData() + i, n);
        }
        out.append(char(0));
        return out;
    }

private:
    QByteArray bytes_;
    uint32_t buffer_ = 0;
    int filled_ = 0;
};

// The LZW data of one frame's palette indices, 8-bit minimum code size.
QByteArray lzw(const std::vector<uchar>& pixels) {
    constexpr int kClear = 256, kEnd = 257, kMaxCode = 4095;
    CodeWriter out;
    std::unordered_map<uint32_t, int> table;
    table.reserve(8192);
    int code_size = 9, max_code = kEnd;
    out.put(kClear, code_size);
    int current = pixels.empty() ? 0 : pixels[0];
    for (size_t i = 1; i < pixels.size(); ++i) {
        const uint32_t key = (uint32_t(current) << 8) | pixels[i];
        const auto found = table.find(key);
        if (found != table.end()) {
            current = found->second;
            continue;
        }
        out.put(current, code_size);
        table.emplace(key, ++max_code);
        if (max_code >= (1 << code_size)) ++code_size;
        if (max_code == kMaxCode) {
            out.put(kClear, code_size);
            table.clear();
            code_size = 9;
            max_code = kEnd;
        }
        current = pixels[i];
    }
    out.put(current, code_size);
    out.put(kEnd, code_size);
    QByteArray data(1, char(8));
    data.append(out.blocks());
    return data;
}

}  // namespace

const QVector<QRgb>& GifWriter::palette() {
    static const QVector<QRgb> colours = [] {
        QVector<QRgb> p;
        QCPColorGradient viridis = viridis_gradient();
        for (int i = 0; i < 96; ++i) p << viridis.color(i / 95.0, QCPRange(0, 1));
        for (int r = 0; r < 5; ++r)
            for (int g = 0; g < 5; ++g)
                for (int b = 0; b < 5; ++b) p << qRgb(r * 255 / 4, g * 255 / 4, b * 255 / 4);
        while (p.size() < 256) {
            const int v = (p.size() - 221) * 255 / 34;
            p << qRgb(v, v, v);
        }
        return p;
    }();
    return colours;
}

GifWriter::GifWriter(const QString& path, int width, int height, int delay_cs)
    : file_(path), width_(width), height_(height), delay_(delay_cs) {
    if (width < 1 || height < 1 || width > 65535 || height > 65535) throw gif_error(path, QStringLiteral("bad size"));
    if (!file_.open(QIODevice::WriteOnly | QIODevice::Truncate)) throw gif_error(path, file_.errorString());
    QByteArray head("GIF89a");
    put16(head, width);
    put16(head, height);
    head.append(char(0xF7));  // a global table of 256 colours, 8 bits each
    head.append(char(0));     // background: entry 0
    head.append(char(0));     // square pixels
    for (QRgb c : palette()) {
        head.append(char(qRed(c)));
        head.append(char(qGreen(c)));
        head.append(char(qBlue(c)));
    }
    // NETSCAPE2.0: loop forever.
    head.append("\x21\xFF\x0BNETSCAPE2.0\x03\x01", 16);
    put16(head, 0);
    head.append(char(0));
    write(head);
}

GifWriter::~GifWriter() {
    if (!finished_) file_.cancelWriting();
}

void GifWriter::write(const QByteArray& bytes) {
    if (file_.write(bytes) != bytes.size()) throw gif_error(file_.fileName(), file_.errorString());
}

uchar GifWriter::index(QRgb rgb) {
    const auto found = nearest_.constFind(rgb);
    if (found != nearest_.constEnd()) return *found;
    const QVector<QRgb>& p = palette();
    int best = 0;
    long best_distance = std::numeric_limits<long>::max();
    for (int i = 0; i < p.size(); ++i) {
        const long dr = qRed(rgb) - qRed(p[i]), dg = qGreen(rgb) - qGreen(p[i]), db = qBlue(rgb) - qBlue(p[i]);
        // Weighted as the eye weighs them.
        const long d = 3 * dr * dr + 4 * dg * dg + 2 * db * db;
        if (d < best_distance) {
            best_distance = d;
            best = i;
        }
    }
    nearest_.insert(rgb, uchar(best));
    return uchar(best);
}

void GifWriter::addFrame(const QImage& image) {
    QImage frame = image.size() == QSize(width_, height_) ? image : image.scaled(width_, height_);
    frame = frame.convertToFormat(QImage::Format_RGB32);
    std::vector<uchar> pixels(size_t(width_) * size_t(height_));
    for (int y = 0; y < height_; ++y) {
        const QRgb* line = reinterpret_cast<const QRgb*>(frame.constScanLine(y));
        for (int x = 0; x < width_; ++x) pixels[size_t(y) * size_t(width_) + size_t(x)] = index(line[x]);
    }
    QByteArray out("\x21\xF9\x04\x04", 4);  // graphic control: keep the frame, no transparency
    put16(out, delay_);
    out.append(char(0));
    out.append(char(0));
    out.append(char(0x2C));  // image descriptor: the whole screen, no local table
    put16(out, 0);
    put16(out, 0);
    put16(out, width_);
    put16(out, height_);
    out.append(char(0));
    out.append(lzw(pixels));
    write(out);
    ++frames_;
}

void GifWriter::finish() {
    write(QByteArray(1, char(0x3B)));
    if (!file_.commit()) throw gif_error(file_.fileName(), file_.errorString());
    finished_ = true;
}

}  // namespace stepscope::ui
