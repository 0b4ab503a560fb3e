// The heatmap over steps as an animation: an animated GIF (written here), or an MP4 through ffmpeg when installed.
#pragma once

#include <QSize>
#include <QString>

#include <cstdint>

namespace stepscope::ui {

class AttentionPlot;

// Whether `path`'s suffix can be written: gif always, mp4 when ffmpeg is on the PATH.
bool animation_format_available(const QString& suffix);
// "GIF animation (*.gif);;MP4 video (*.mp4)" (MP4 only with ffmpeg), for a file dialog.
QString animation_filter();

// Draws `map` at every step from `first` to `last` (at most `max_frames`, evenly spaced, the last
// one included) at `size`, 10 frames a second, into `path`; the map goes back to the step it showed.
// Returns the frames written. Throws stepscope::Error naming the file when it cannot be written.
int write_heatmap_animation(AttentionPlot& map, const QString& path, QSize size, int64_t first, int64_t last,
                            int max_frames = 240);

}  // namespace stepscope::ui
