// Feature maps phi(x) of linear attention: elu+1, relu and the random feature family (rff, smoothed-rff, favor, grf).
#include "stepscope/feature_map.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <Eigen/QR>

#include "kernels/linear_kernels.h"
#include "stepscope/config.h"
#include "stepscope/error.h"

namespace stepscope {

RowMatrix FeatureMap::draw_omega(std::mt19937_64&) const { return RowMatrix(); }

namespace {

using Index = Eigen::Index;

// phi lives across steps in a state: reallocating only on a new shape keeps
// the steady state free of allocations.
void shape_output(RowMatrix& phi, Index rows, Index cols) {
    if (phi.rows() != rows || phi.cols() != cols) phi.resize(rows, cols);
}

// n: the reference's n_dims, `n_dims or query_dimensions`.
int dims_or_default(const FeatureMapOptions& options) {
    return options.n_dims > 0 ? options.n_dims : options.query_dimensions;
}

// The reference's `softmax_temp=None` is our 0.
double temperature_or(const FeatureMapOptions& options, double fallback) {
    return options.softmax_temp > 0 ? options.softmax_temp : fallback;
}

void require_at_least(const FeatureMapOptions& options, int n, int minimum) {
    if (n >= minimum) return;
    const std::string given = options.n_dims > 0
                                  ? std::to_string(options.n_dims)
                                  : "0 (default: query_dimensions " + std::to_string(options.query_dimensions) + ")";
    throw Error("parameter 'feature_map_dimensions' is " + given + ", too small for feature map '" + options.name +
                    "', whose construction needs n_dims >= " + std::to_string(minimum),
                "feature_map_dimensions");
}

// Rows are ordered (outer, reduce, inner): row = (o * reduce + k) * inner + i.
Index layout_row(RowLayout layout, int o, int k, int i) { return (Index(o) * layout.reduce + k) * layout.inner + i; }

void require_layout(const std::string& map, RowLayout layout, Index rows) {
    if (layout.outer < 1 || layout.reduce < 1 || layout.inner < 1 ||
        Index(layout.outer) * layout.reduce * layout.inner != rows)
        throw Error("feature map '" + map + "': row layout {" + std::to_string(layout.outer) + ", " +
                    std::to_string(layout.reduce) + ", " + std::to_string(layout.inner) + "} does not cover " +
                    std::to_string(rows) + " rows");
}

// What every map shares: its name (for messages) and D.
class NamedFeatureMap : public FeatureMap {
protected:
    explicit NamedFeatureMap(const FeatureMapOptions& options) : name_(options.name), dims_(options.query_dimensions) {}

    // A wrong width is a caller's bug that Eigen only asserts on in debug builds.
    void require_width(const ConstMatrixRef& x) const {
        if (x.cols() != dims_)
            throw Error("feature map '" + name_ + "': input has " + std::to_string(x.cols()) +
                        " columns, query_dimensions is " + std::to_string(dims_));
    }

    std::string name_;
    int dims_;
};

// phi(x) = elu(x) + 1 = x + 1 for x > 0, exp(x) otherwise; F = D.
// exp(x) rather than the reference's expm1(x) + 1: the same function, but it
// stays positive where expm1(x) + 1 rounds to 0 in float (x below about -17).
class EluFeatureMap final : public NamedFeatureMap {
public:
    PointwiseMap pointwise() const override { return PointwiseMap::Elu; }
    explicit EluFeatureMap(const FeatureMapOptions& options) : NamedFeatureMap(options) {}

    int output_dims() const override { return dims_; }

    // x (R, D), phi (R, D)
    void apply(const ConstMatrixRef& x, const RowMatrix&, RowMatrix& phi, RowLayout) const override {
        require_width(x);
        shape_output(phi, x.rows(), dims_);
        // The run-time dispatched kernel: in a portable build Eigen's exp here is SSE only.
        const auto elu = kernels::linear_kernels().elu_plus_one;
        for (Index r = 0; r < x.rows(); ++r) elu(x.row(r).data(), dims_, phi.row(r).data());
    }

    void apply_scalar(const ConstMatrixRef& x, const RowMatrix&, RowMatrix& phi, RowLayout) const override {
        require_width(x);
        shape_output(phi, x.rows(), dims_);
        for (Index r = 0; r < x.rows(); ++r)
            for (Index d = 0; d < dims_; ++d) phi(r, d) = x(r, d) > 0.0f ? x(r, d) + 1.0f : std::exp(x(r, d));
    }
};

// phi(x) = max(x, 0); F = D.
class ReluFeatureMap final : public NamedFeatureMap {
public:
    PointwiseMap pointwise() const override { return PointwiseMap::Relu; }
    explicit ReluFeatureMap(const FeatureMapOptions& options) : NamedFeatureMap(options) {}

    int output_dims() const override { return dims_; }

    // x (R, D), phi (R, D)
    void apply(const ConstMatrixRef& x, const RowMatrix&, RowMatrix& phi, RowLayout) const override {
        require_width(x);
        shape_output(phi, x.rows(), dims_);
        phi = x.cwiseMax(0.0f);
    }

    void apply_scalar(const ConstMatrixRef& x, const RowMatrix&, RowMatrix& phi, RowLayout) const override {
        require_width(x);
        shape_output(phi, x.rows(), dims_);
        for (Index r = 0; r < x.rows(); ++r)
            for (Index d = 0; d < dims_; ++d) phi(r, d) = std::max(x(r, d), 0.0f);
    }
};

// phi(x) = silu(x) = x sigmoid(x), DeltaNet's map for queries and keys; F = D.
class SiluFeatureMap final : public NamedFeatureMap {
public:
    explicit SiluFeatureMap(const FeatureMapOptions& options) : NamedFeatureMap(options) {}

    int output_dims() const override { return dims_; }

    // x (R, D), phi (R, D)
    void apply(const ConstMatrixRef& x, const RowMatrix&, RowMatrix& phi, RowLayout) const override {
        require_width(x);
        shape_output(phi, x.rows(), dims_);
        phi = (x.array() / (1.0f + (-x.array()).exp())).matrix();
    }

    void apply_scalar(const ConstMatrixRef& x, const RowMatrix&, RowMatrix& phi, RowLayout) const override {
        require_width(x);
        shape_output(phi, x.rows(), dims_);
        for (Index r = 0; r < x.rows(); ++r)
            for (Index d = 0; d < dims_; ++d) phi(r, d) = x(r, d) / (1.0f + std::exp(-x(r, d)));
    }
};

// The reference's RandomFourierFeatures as a base: n (its n_dims), omega
// (D, C) with C = n / 2, and the input scale sqrt(softmax_temp), x' = x sqrt(t).
class RandomFeatureMap : public NamedFeatureMap {
public:
    int omega_columns() const override { return columns_; }
    bool draws_orthogonal() const override { return orthogonal_; }

    RowMatrix draw_omega(std::mt19937_64& rng) const override {
        if (orthogonal_) return orthogonal_random_matrix(dims_, columns_, rng);
        // i.i.d. N(0, 1), drawn row by row as torch's normal_ fills (D, C).
        std::normal_distribution<float> normal;
        RowMatrix omega(dims_, columns_);
        for (Index d = 0; d < dims_; ++d)
            for (Index c = 0; c < columns_; ++c) omega(d, c) = normal(rng);
        return omega;
    }

protected:
    RandomFeatureMap(const FeatureMapOptions& options, int n, double temperature, bool orthogonal)
        : NamedFeatureMap(options),
          n_(n),
          columns_(n / 2),
          scale_(static_cast<float>(std::sqrt(temperature))),
          orthogonal_(orthogonal) {}

    void require_shapes(const ConstMatrixRef& x, const RowMatrix& omega) const {
        require_width(x);
        if (omega.rows() != dims_ || omega.cols() != columns_)
            throw Error("feature map '" + name_ + "': omega is (" + std::to_string(omega.rows()) + ", " +
                        std::to_string(omega.cols()) + "), expected (" + std::to_string(dims_) + ", " +
                        std::to_string(columns_) + ")");
    }

    int n_;
    int columns_;  // C
    float scale_;  // sqrt(softmax_temp)
    bool orthogonal_;
};

// phi(x) = sqrt(2/n) [cos u, sin u], u = x' omega (R, C); F = 2C. With omega
// ~ N(0, I), E[phi(x) . phi(y)] = exp(-|x' - y'|^2 / 2) (Rahimi and Recht).
// The scale uses n, not F, so an odd n_dims keeps the reference's values.
class RandomFourierFeatures : public RandomFeatureMap {
public:
    explicit RandomFourierFeatures(const FeatureMapOptions& options)
        : RandomFourierFeatures(options, dims_or_default(options)) {}

    int output_dims() const override { return 2 * columns_; }

    void apply(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi, RowLayout) const override {
        require_shapes(x, omega);
        shape_output(phi, x.rows(), 2 * columns_);
        fourier(x, omega, phi);
    }

    void apply_scalar(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi, RowLayout) const override {
        require_shapes(x, omega);
        shape_output(phi, x.rows(), 2 * columns_);
        fourier_scalar(x, omega, phi);
    }

protected:
    RandomFourierFeatures(const FeatureMapOptions& options, int n)
        : RandomFeatureMap(options, n, temperature_or(options, default_softmax_temp(options.query_dimensions)), false) {
        require_at_least(options, n, 2);
    }

    // x (R, D), omega (D, C), phi (R, 2C): the first 2C columns of the output.
    void fourier(const ConstMatrixRef& x, const RowMatrix& omega, MatrixRef phi) const {
        const float norm = static_cast<float>(std::sqrt(2.0 / n_));
        auto u = phi.leftCols(columns_);
        u.noalias() = (x * scale_) * omega;
        phi.rightCols(columns_).array() = u.array().sin() * norm;
        u.array() = u.array().cos() * norm;
    }

    void fourier_scalar(const ConstMatrixRef& x, const RowMatrix& omega, MatrixRef phi) const {
        const double norm = std::sqrt(2.0 / n_);
        for (Index r = 0; r < x.rows(); ++r) {
            for (Index c = 0; c < columns_; ++c) {
                double u = 0;
                for (Index d = 0; d < dims_; ++d) u += double(x(r, d)) * scale_ * omega(d, c);
                phi(r, c) = static_cast<float>(std::cos(u) * norm);
                phi(r, columns_ + c) = static_cast<float>(std::sin(u) * norm);
            }
        }
    }
};

// phi(x) = [rff(x), s] with s = 1 (the reference's smoothing), the rff built
// with n_dims - 1 (query_dimensions - 1 by default), so that
// phi(x) . phi(y) ~ exp(-|x' - y'|^2 / 2) + s^2 stays away from 0; F = 2C + 1.
class SmoothedRandomFourierFeatures final : public RandomFourierFeatures {
public:
    explicit SmoothedRandomFourierFeatures(const FeatureMapOptions& options)
        : RandomFourierFeatures(options, smoothed_dims(options)) {}

    int output_dims() const override { return 2 * columns_ + 1; }

    void apply(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi, RowLayout) const override {
        require_shapes(x, omega);
        shape_output(phi, x.rows(), 2 * columns_ + 1);
        // The rff part is computed with rff's own row stride, then each row moved up to this wider one
        // (from the last, so no row overwrites one not yet moved): Eigen rounds its vectorised sin and
        // cos differently from the scalar ones it peels to reach an aligned address, so the same
        // values at another stride differ in the last bit with SSE's 4-float packets.
        const Index width = 2 * columns_;
        fourier(x, omega, Eigen::Map<RowMatrix>(phi.data(), x.rows(), width));
        for (Index r = x.rows() - 1; r > 0; --r)
            std::memmove(phi.row(r).data(), phi.data() + r * width, sizeof(float) * width);
        phi.col(width).setConstant(kSmoothing);
    }

    void apply_scalar(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi, RowLayout) const override {
        require_shapes(x, omega);
        shape_output(phi, x.rows(), 2 * columns_ + 1);
        fourier_scalar(x, omega, phi.leftCols(2 * columns_));
        for (Index r = 0; r < x.rows(); ++r) phi(r, 2 * columns_) = kSmoothing;
    }

private:
    static constexpr float kSmoothing = 1.0f;

    // The inner rff needs n_dims - 1 >= 2; checked here so the message names
    // the user's n_dims, not the inner one.
    static int smoothed_dims(const FeatureMapOptions& options) {
        require_at_least(options, dims_or_default(options), 3);
        return dims_or_default(options) - 1;
    }
};

// phi(x) = [exp(u - o), exp(-u - o)], u = x' omega (R, C), F = 2C, with the
// offset o = |x'|^2 / 2 + log(n) / 2, i.e. exp(-|x'|^2/2) [e^u, e^-u] / sqrt(n):
// positive features with E[phi(x) . phi(y)] = exp(x' . y') (Performer, Lemma 1).
// stabilize adds max |x'|^2 over the layout's `reduce` rows to o, a common
// factor of a sequence's features that the attention's normaliser cancels.
class Favor final : public RandomFeatureMap {
public:
    explicit Favor(const FeatureMapOptions& options)
        : RandomFeatureMap(options, dims_or_default(options),
                           temperature_or(options, default_softmax_temp(options.query_dimensions)), true),
          half_log_n_(static_cast<float>(0.5 * std::log(double(n_)))),
          stabilize_(options.stabilize) {
        require_at_least(options, n_, 2);
    }

    int output_dims() const override { return 2 * columns_; }

    void apply(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi, RowLayout layout) const override {
        require_shapes(x, omega);
        if (stabilize_) require_layout(name_, layout, x.rows());
        const Index rows = x.rows(), c = columns_;
        shape_output(phi, rows, 2 * c);

        // Pass 1: the offsets o (R) wait in phi's column C, which the product
        // of pass 2 does not touch, so no scratch buffer is needed.
        auto offset = phi.col(c);
        offset = x.rowwise().squaredNorm() * (scale_ * scale_);
        if (stabilize_) {
            for (int o = 0; o < layout.outer; ++o) {
                for (int i = 0; i < layout.inner; ++i) {
                    float top = -std::numeric_limits<float>::infinity();
                    for (int k = 0; k < layout.reduce; ++k) top = std::max(top, offset(layout_row(layout, o, k, i)));
                    for (int k = 0; k < layout.reduce; ++k) {
                        float& value = offset(layout_row(layout, o, k, i));
                        value = 0.5f * value + half_log_n_ + top;
                    }
                }
            }
        } else {
            offset.array() = 0.5f * offset.array() + half_log_n_;
        }

        // Pass 2: u = x' omega (R, C) into the left half.
        auto u = phi.leftCols(c);
        u.noalias() = (x * scale_) * omega;

        // Pass 3: both exponentials per row; the right half is written after
        // its first entry, the offset, has been read.
        for (Index r = 0; r < rows; ++r) {
            const float o = phi(r, c);
            auto row = phi.row(r).array();
            row.tail(c) = (-row.head(c) - o).exp();
            row.head(c) = (row.head(c) - o).exp();
        }
    }

    void apply_scalar(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi,
                      RowLayout layout) const override {
        require_shapes(x, omega);
        if (stabilize_) require_layout(name_, layout, x.rows());
        const Index rows = x.rows(), c = columns_;
        shape_output(phi, rows, 2 * c);

        std::vector<double> norm(rows), offset(rows);
        for (Index r = 0; r < rows; ++r) {
            norm[r] = 0;
            for (Index d = 0; d < dims_; ++d) {
                const double scaled = double(x(r, d)) * scale_;
                norm[r] += scaled * scaled;
            }
            offset[r] = 0.5 * norm[r] + 0.5 * std::log(double(n_));
        }
        if (stabilize_) {
            for (int o = 0; o < layout.outer; ++o) {
                for (int i = 0; i < layout.inner; ++i) {
                    double top = norm[layout_row(layout, o, 0, i)];
                    for (int k = 1; k < layout.reduce; ++k) top = std::max(top, norm[layout_row(layout, o, k, i)]);
                    for (int k = 0; k < layout.reduce; ++k) offset[layout_row(layout, o, k, i)] += top;
                }
            }
        }
        for (Index r = 0; r < rows; ++r) {
            for (Index j = 0; j < c; ++j) {
                double u = 0;
                for (Index d = 0; d < dims_; ++d) u += double(x(r, d)) * scale_ * omega(d, j);
                phi(r, j) = static_cast<float>(std::exp(u - offset[r]));
                phi(r, c + j) = static_cast<float>(std::exp(-u - offset[r]));
            }
        }
    }

private:
    float half_log_n_;  // log(n) / 2 with n = n_dims, not F: they differ for odd n_dims
    bool stabilize_;
};

// phi(x) = relu(x' omega) (R, C), the reference's GeneralizedRandomFeatures
// with its default kernel_fn. It builds its rff with 2 n_dims, so C = F = n_dims
// (query_dimensions by default); softmax_temp defaults to 1, whose scale of 1
// is exact, the same as the reference skipping it. Orthogonal, as its default,
// though Householder's signs (Eigen's as LAPACK's) put each block's columns in
// half-spaces, which leaves relu's kernel estimate biased there as here.
class GeneralizedRandomFeatures final : public RandomFeatureMap {
public:
    explicit GeneralizedRandomFeatures(const FeatureMapOptions& options)
        : RandomFeatureMap(options, 2 * dims_or_default(options), temperature_or(options, 1.0), true) {}

    int output_dims() const override { return columns_; }

    void apply(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi, RowLayout) const override {
        require_shapes(x, omega);
        shape_output(phi, x.rows(), columns_);
        phi.noalias() = (x * scale_) * omega;
        phi = phi.cwiseMax(0.0f);
    }

    void apply_scalar(const ConstMatrixRef& x, const RowMatrix& omega, RowMatrix& phi, RowLayout) const override {
        require_shapes(x, omega);
        shape_output(phi, x.rows(), columns_);
        for (Index r = 0; r < x.rows(); ++r) {
            for (Index j = 0; j < columns_; ++j) {
                double u = 0;
                for (Index d = 0; d < dims_; ++d) u += double(x(r, d)) * scale_ * omega(d, j);
                phi(r, j) = static_cast<float>(std::max(u, 0.0));
            }
        }
    }
};

struct Registered {
    const char* name;
    std::unique_ptr<FeatureMap> (*make)(const FeatureMapOptions&);
};

template <typename Map>
std::unique_ptr<FeatureMap> make(const FeatureMapOptions& options) {
    return std::make_unique<Map>(options);
}

// A new feature map is one class above and one line here.
const std::vector<Registered>& registry() {
    static const std::vector<Registered> maps = {
        {"elu", make<EluFeatureMap>},
        {"relu", make<ReluFeatureMap>},
        {"silu", make<SiluFeatureMap>},
        {"favor", make<Favor>},
        {"rff", make<RandomFourierFeatures>},
        {"smoothed-rff", make<SmoothedRandomFourierFeatures>},
        {"grf", make<GeneralizedRandomFeatures>},
    };
    return maps;
}

}  // namespace

const std::vector<std::string>& feature_map_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& map : registry()) out.emplace_back(map.name);
        return out;
    }();
    return names;
}

FeatureMapOptions feature_map_options(const ModelConfig& config, int query_dims) {
    FeatureMapOptions options;
    options.name = config.feature_map;
    options.query_dimensions = query_dims;
    options.n_dims = config.feature_map_dimensions;
    // softmax_temp stays the map's own default: in the reference the builder's
    // softmax_temp reaches full attention only, never the feature map factory.
    options.stabilize = config.feature_map_stabilize;
    return options;
}

std::unique_ptr<FeatureMap> make_feature_map(const FeatureMapOptions& options) {
    const auto& maps = registry();
    const auto found =
        std::find_if(maps.begin(), maps.end(), [&](const Registered& map) { return options.name == map.name; });
    if (found == maps.end()) {
        std::string names;
        for (const auto& name : feature_map_names()) names += (names.empty() ? "" : ", ") + name;
        throw Error("parameter 'feature_map' is " + quote_text(options.name) + ", not one of: " + names, "feature_map");
    }
    if (options.query_dimensions <= 0)
        throw Error("feature map '" + options.name + "' needs a positive query_dimensions to size its " +
                    "feature_map_dimensions, got " + std::to_string(options.query_dimensions));
    if (options.n_dims < 0)
        throw Error("parameter 'feature_map_dimensions' must be >= 0 (0 for the default), got " +
                        std::to_string(options.n_dims),
                    "feature_map_dimensions");
    if (!(std::isfinite(options.softmax_temp) && options.softmax_temp >= 0))
        throw Error("parameter 'softmax_temp' of feature map '" + options.name +
                        "' must be positive (or 0 for the default), got " + std::to_string(options.softmax_temp),
                    "softmax_temp");
    return found->make(options);
}

// w (rows, columns) in blocks of `rows` columns: block j's columns are those of
// Q from G = QR, G (rows, rows) standard normal, column i scaled by |G(i, :)|.
// The columns of a block are orthogonal, and each norm is that of a Gaussian
// vector (chi with `rows` degrees of freedom), as an i.i.d. normal column's.
RowMatrix orthogonal_random_matrix(int rows, int columns, std::mt19937_64& rng) {
    if (rows <= 0 || columns < 0)
        throw Error("orthogonal_random_matrix: shape (" + std::to_string(rows) + ", " + std::to_string(columns) +
                    ") needs rows > 0 and columns >= 0");
    std::normal_distribution<float> normal;
    RowMatrix w(rows, columns);
    Eigen::MatrixXf gaussian(rows, rows);
    for (int start = 0; start < columns; start += rows) {
        const int width = std::min(rows, columns - start);
        // Row by row, as torch.randn fills a (rows, rows) tensor.
        for (int i = 0; i < rows; ++i)
            for (int j = 0; j < rows; ++j) gaussian(i, j) = normal(rng);
        const Vector norms = gaussian.rowwise().norm();
        const Eigen::MatrixXf q = Eigen::HouseholderQR<Eigen::MatrixXf>(gaussian).householderQ();
        w.middleCols(start, width) = q.leftCols(width) * norms.head(width).asDiagonal();
    }
    return w;
}

}  // namespace stepscope
