// Min/max decimation: a long series drawn as the few points each pixel column of a plot shows.
//
// A line through every point of a 100,000-step series costs a plot's redraw about as much as the
// engine's step, for pixels that show only each column's extent. For every column of [lower, upper)
// this keeps the column's first, lowest, highest and last point (in key order), so the drawn line
// reaches each column's minimum and maximum and joins its neighbours where the full line would.
// A column's first NaN is kept too: the gap it leaves stays a gap.
#pragma once

#include <QVector>

#include <vector>

namespace stepscope::ui {

// A plotted series' steps or values. Floats, as the traces keep them: a step number is exact in a float up
// to 2^24, far past the steps a run's traces can hold, and a float series costs half a double one.
using SeriesData = std::vector<float>;

// The pixel column of `key` when [lower, upper) is split into `columns`: -1 left of it, `columns` right.
long pixel_column(double key, double lower, double upper, int columns);

// keys ascending. Writes the points of [lower, upper) to draw over `columns` pixel columns, plus the
// nearest point on each side outside it (lines leave the view as they should); every point of the
// series when it has no more than four a column, every point in view when those have no more.
void decimate_min_max(const SeriesData& keys, const SeriesData& values, double lower, double upper, int columns,
                      QVector<double>& drawn_keys, QVector<double>& drawn_values);

}  // namespace stepscope::ui
