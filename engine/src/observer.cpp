// State norms per batch element and head, for observers.
#include "stepscope/observer.h"

namespace stepscope {

StateNorms compute_state_norms(const AttentionState& state, bool is_linear, int batch, int heads) {
    StateNorms norms;
    norms.is_linear = is_linear;
    norms.batch = batch;
    norms.heads = heads;
    const int rows = batch * heads;
    if (is_linear) {
        if (state.linear.normalizer.rows() != rows) return norms;
        const long features = state.linear.normalizer.cols();
        norms.sums.resize(rows);
        norms.normalizer.resize(rows);
        for (int r = 0; r < rows; ++r) {
            norms.sums[r] = state.linear.sums.middleRows(long(r) * features, features).norm();
            norms.normalizer[r] = state.linear.normalizer.row(r).norm();
        }
        return norms;
    }
    const KeyValueCache& cache = state.cache;
    norms.cache_length = cache.length;
    if (cache.keys.rows() != rows) return norms;
    norms.keys.resize(rows);
    norms.values.resize(rows);
    for (int r = 0; r < rows; ++r) {
        norms.keys[r] = cache.head_keys(r).norm();
        norms.values[r] = cache.head_values(r).norm();
    }
    return norms;
}

}  // namespace stepscope
