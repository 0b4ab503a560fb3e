// A loop over attention heads, split across oneTBB workers when the heads' work pays for it.
// Engine .cpp files only: oneTBB's headers clash with Qt's macros.
#pragma once

#include <tbb/parallel_for.h>

namespace stepscope {

// Below this many multiply-adds a parallel loop costs more than it saves.
constexpr long kParallelWork = 1 << 15;

// body(r) for r in [0, rows); every row is computed the same way whatever the split.
template <typename Body>
void for_each_head(int rows, long work_per_row, Body body) {
    if (rows * work_per_row < kParallelWork) {
        for (int r = 0; r < rows; ++r) body(r);
        return;
    }
    tbb::parallel_for(0, rows, [&](int r) { body(r); });
}

}  // namespace stepscope
