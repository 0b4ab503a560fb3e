// Implicit attention of linear attention over held key features: a fast path and its scalar reference.
#include "stepscope/implicit_attention.h"

#include <tbb/parallel_for.h>

#include <cmath>

#include "insight/view_reference.h"

namespace stepscope {

namespace {

int valid_columns(const std::vector<int>& valid_lengths, int row, int heads, int keys) {
    return valid_lengths.empty() ? keys : std::min(keys, valid_lengths[size_t(row / heads)]);
}

}  // namespace

void linear_attention_weights(const ConstMatrixRef& phi_q, const ConstMatrixRef& normalizer, float eps,
                              const FeatureHistory& keys, const std::vector<int>& valid_lengths, int heads,
                              RowMatrix& weights, int first_column) {
    const int rows = static_cast<int>(phi_q.rows()), features = static_cast<int>(phi_q.cols());
    const int length = keys.length();
    weights.setZero(rows, length - first_column);
    tbb::parallel_for(0, rows, [&](int r) {
        const float inverse = 1.0f / (phi_q.row(r).dot(normalizer.row(r)) + eps);
        const int valid = valid_columns(valid_lengths, r, heads, length);
        for (int c = first_column; c < valid; ++c)
            weights(r, c - first_column) =
                inverse * phi_q.row(r).dot(Eigen::Map<const RowVector>(keys.features_of(r, c), features));
    });
}

namespace reference {

void linear_attention_weights(const ConstMatrixRef& phi_q, const ConstMatrixRef& normalizer, float eps,
                              const FeatureHistory& keys, const std::vector<int>& valid_lengths, int heads,
                              RowMatrix& weights, int first_column) {
    const long rows = phi_q.rows(), features = phi_q.cols();
    const int length = keys.length();
    weights.resize(rows, length - first_column);
    for (long r = 0; r < rows; ++r) {
        float denominator = eps;
        for (long f = 0; f < features; ++f) denominator += phi_q(r, f) * normalizer(r, f);
        const int valid = valid_columns(valid_lengths, static_cast<int>(r), heads, length);
        for (int c = first_column; c < length; ++c) {
            const float* key = keys.features_of(static_cast<int>(r), c);
            float similarity = 0;
            for (long f = 0; f < features; ++f) similarity += phi_q(r, f) * key[f];
            weights(r, c - first_column) = c < valid ? similarity / denominator : 0.0f;
        }
    }
}

}  // namespace reference

std::vector<float> row_entropy(const ConstMatrixRef& weights) {
    std::vector<float> entropy(size_t(weights.rows()), 0.0f);
    for (long r = 0; r < weights.rows(); ++r)
        for (long c = 0; c < weights.cols(); ++c)
            if (weights(r, c) > 0) entropy[size_t(r)] -= weights(r, c) * std::log(weights(r, c));
    return entropy;
}

}  // namespace stepscope
