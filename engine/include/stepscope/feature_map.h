// Feature maps phi(x) of linear attention, as in the reference's feature_maps module.
//
// A feature map is immutable: random maps (favor, rff, smoothed-rff, grf) take
// their sampled matrix omega (D, C) as an argument, because omega belongs to a
// sequence (drawn when the state is empty) or to the weights (a stored omega).
#pragma once

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "stepscope/config.h"
#include "stepscope/types.h"

namespace stepscope {

// How the rows handed to a feature map are laid out, for Favor's `stabilize`,
// which subtracts the maximum squared norm along the reference's dimension 1.
// Rows are ordered (outer, reduce, inner); the maximum runs over `reduce`.
//   recurrent self attention, (N, H, D):      {N, H, 1}
//   cross attention keys,     (N, S, H, D):   {N, S, H}
struct RowLayout {
    int outer = 1;
    int reduce = 1;
    int inner = 1;
};

struct FeatureMapOptions {
    std::string name = "elu";  // elu | relu | favor | rff | smoothed-rff | grf
    int query_dimensions = 0;  // D, the width of each query/key head
    int n_dims = 0;            // the reference's n_dims; 0 means its default
    double softmax_temp = 0;   // 0 means the map's own default
    bool stabilize = false;    // favor only
};

// A map that acts on each value alone, phi(x)_i = f(x_i), as a device kernel can fuse it; None for
// maps that mix a row (the random maps).
enum class PointwiseMap { None, Elu, Relu };

class FeatureMap {
public:
    virtual ~FeatureMap() = default;

    virtual PointwiseMap pointwise() const { return PointwiseMap::None; }

    // F, the width of phi(x).
    virtual int output_dims() const = 0;

    // C, the columns of omega; 0 for deterministic maps (elu, relu).
    virtual int omega_columns() const { return 0; }
    bool is_random() const { return omega_columns() > 0; }
    // Whether draw_omega draws orthogonal blocks: a QR of a (D, D) Gaussian per block, the
    // expensive part of a new sequence, which the config's bounds and the memory estimate count.
    virtual bool draws_orthogonal() const { return false; }

    // A fresh omega (D, C), with the reference's sampling (orthogonal blocks
    // scaled by chi-distributed norms for favor and grf, i.i.d. normal for rff
    // and smoothed-rff); empty for deterministic maps.
    virtual RowMatrix draw_omega(std::mt19937_64& rng) const;

    // phi = feature map of x. x (R, D), phi (R, F); omega (D, C) or empty for
    // deterministic maps. The fast path (Eigen products, vectorised transcendental).
    virtual void apply(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi, RowLayout layout) const = 0;

    // The same function in plain scalar loops: the reference the tests hold
    // the fast path to.
    virtual void apply_scalar(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi,
                              RowLayout layout) const = 0;
};

// Names accepted by make_feature_map, in registry order.
const std::vector<std::string>& feature_map_names();

// Throws Error naming `feature_map` or `feature_map_dimensions` when the
// options are impossible (unknown name, non-positive or too small n_dims).
std::unique_ptr<FeatureMap> make_feature_map(const FeatureMapOptions& options);

// The options the builder gives the feature map of a module with `query_dims` per head: the
// config's feature_map, feature_map_dimensions and stabilisation, the map's own softmax_temp.
FeatureMapOptions feature_map_options(const ModelConfig& config, int query_dims);

// The reference's orthogonal_random_matrix_: blocks of D columns from the Q of
// the QR of a (D, D) Gaussian, each column scaled by the norm of a Gaussian row.
RowMatrix orthogonal_random_matrix(int rows, int columns, std::mt19937_64& rng);

}  // namespace stepscope
