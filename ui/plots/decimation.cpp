// Min/max decimation per pixel column: first, lowest, highest, last and first NaN of each column.
#include "plots/decimation.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace stepscope::ui {

namespace {

// The points one column keeps, as indices into the series.
struct Column {
    long first = -1, last = -1, lowest = -1, highest = -1, nan = -1;

    void add(long i, double value, const SeriesData& values) {
        if (first < 0) first = i;
        last = i;
        if (std::isnan(value)) {
            if (nan < 0) nan = i;
            return;
        }
        if (lowest < 0 || value < values[size_t(lowest)]) lowest = i;
        if (highest < 0 || value > values[size_t(highest)]) highest = i;
    }

    void emit_to(const SeriesData& keys, const SeriesData& values, QVector<double>& drawn_keys,
                 QVector<double>& drawn_values) const {
        std::array<long, 5> kept{first, lowest, highest, nan, last};
        std::sort(kept.begin(), kept.end());
        long previous = -1;
        for (long i : kept) {
            if (i < 0 || i == previous) continue;
            drawn_keys.push_back(keys[size_t(i)]);
            drawn_values.push_back(values[size_t(i)]);
            previous = i;
        }
    }
};

}  // namespace

long pixel_column(double key, double lower, double upper, int columns) {
    if (key < lower) return -1;
    return std::min(long(columns), long((key - lower) * columns / (upper - lower)));
}

void decimate_min_max(const SeriesData& keys, const SeriesData& values, double lower, double upper, int columns,
                      QVector<double>& drawn_keys, QVector<double>& drawn_values) {
    columns = std::max(1, columns);
    if (long(keys.size()) <= 4L * columns) {
        drawn_keys = QVector<double>(keys.begin(), keys.end());
        drawn_values = QVector<double>(values.begin(), values.end());
        return;
    }
    drawn_keys.clear();
    drawn_values.clear();
    auto begin = long(std::lower_bound(keys.begin(), keys.end(), lower) - keys.begin());
    auto end = long(std::lower_bound(keys.begin(), keys.end(), upper) - keys.begin());
    begin = std::max(0L, begin - 1);
    end = std::min(long(keys.size()), end + 1);
    if (end - begin <= 4L * columns || !(upper > lower)) {
        drawn_keys = QVector<double>(keys.begin() + begin, keys.begin() + end);
        drawn_values = QVector<double>(values.begin() + begin, values.begin() + end);
        return;
    }
    drawn_keys.reserve(5 * columns + 2);
    drawn_values.reserve(5 * columns + 2);
    // Column -1 and `columns` hold the neighbours outside the view.
    auto column_of = [&](double key) { return pixel_column(key, lower, upper, columns); };
    Column column;
    long current = column_of(keys[size_t(begin)]);
    for (long i = begin; i < end; ++i) {
        const long c = column_of(keys[size_t(i)]);
        if (c != current) {
            column.emit_to(keys, values, drawn_keys, drawn_values);
            column = Column{};
            current = c;
        }
        column.add(i, values[size_t(i)], values);
    }
    column.emit_to(keys, values, drawn_keys, drawn_values);
}

}  // namespace stepscope::ui
