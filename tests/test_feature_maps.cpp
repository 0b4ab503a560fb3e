// Feature maps: fast path against scalar reference, shapes, kernel approximations, omega sampling, validation.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>

#include "stepscope/error.h"
#include "stepscope/feature_map.h"
#include "test_support.h"

using namespace stepscope;

namespace {

// Float sums and vectorised transcendental functions differ from the scalar
// reference by rounding only.
constexpr double kAbsolute = 1e-5, kRelative = 1e-5;

constexpr double kPi = 3.14159265358979323846;

RowMatrix uniform_matrix(long rows, long cols, float scale, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> uniform(-scale, scale);
    RowMatrix m(rows, cols);
    for (long r = 0; r < rows; ++r)
        for (long c = 0; c < cols; ++c) m(r, c) = uniform(rng);
    return m;
}

std::unique_ptr<FeatureMap> feature_map(const std::string& name, int query_dimensions, int n_dims = 0,
                                        double softmax_temp = 0, bool stabilize = false) {
    FeatureMapOptions options;
    options.name = name;
    options.query_dimensions = query_dimensions;
    options.n_dims = n_dims;
    options.softmax_temp = softmax_temp;
    options.stabilize = stabilize;
    return make_feature_map(options);
}

RowMatrix draw(const FeatureMap& map, uint64_t seed) {
    std::mt19937_64 rng(seed);
    return map.draw_omega(rng);
}

RowMatrix features(const FeatureMap& map, const RowMatrix& x, const RowMatrix& omega, RowLayout layout = {}) {
    RowMatrix phi;
    map.apply(x, omega, phi, layout);
    return phi;
}

// The largest |cos| of the angle between two columns of the same block of
// `block` columns; 0 for orthogonal blocks.
double worst_block_cosine(const RowMatrix& w, long block) {
    double worst = 0;
    for (long a = 0; a < w.cols(); ++a)
        for (long b = a + 1; b < w.cols() && b / block == a / block; ++b)
            worst = std::max(worst, std::abs(double(w.col(a).dot(w.col(b)))) / (w.col(a).norm() * w.col(b).norm()));
    return worst;
}

// The mean of a chi distribution with k degrees of freedom: sqrt(2) G((k+1)/2) / G(k/2).
double chi_mean(int k) { return std::sqrt(2.0) * std::exp(std::lgamma((k + 1) / 2.0) - std::lgamma(k / 2.0)); }

QString error_of(const FeatureMapOptions& options) {
    try {
        make_feature_map(options);
    } catch (const Error& error) {
        return QString::fromStdString(error.what());
    }
    return {};
}

}  // namespace

class FeatureMapsTest : public QObject {
    Q_OBJECT

private slots:
    void names_in_registry_order() {
        const std::vector<std::string> expected = {"elu", "relu", "silu", "favor", "rff", "smoothed-rff", "grf"};
        QVERIFY(feature_map_names() == expected);
    }

    void output_dims_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("n_dims");
        QTest::addColumn<int>("width");
        QTest::addColumn<int>("columns");
        // D = 8 throughout.
        QTest::newRow("elu") << "elu" << 0 << 8 << 0;
        QTest::newRow("elu ignores n_dims") << "elu" << 5 << 8 << 0;
        QTest::newRow("relu") << "relu" << 0 << 8 << 0;
        QTest::newRow("silu") << "silu" << 0 << 8 << 0;
        QTest::newRow("rff default") << "rff" << 0 << 8 << 4;
        QTest::newRow("rff odd") << "rff" << 7 << 6 << 3;
        QTest::newRow("smoothed-rff default") << "smoothed-rff" << 0 << 7 << 3;
        QTest::newRow("smoothed-rff 24") << "smoothed-rff" << 24 << 23 << 11;
        QTest::newRow("smoothed-rff smallest") << "smoothed-rff" << 3 << 3 << 1;
        QTest::newRow("favor default") << "favor" << 0 << 8 << 4;
        QTest::newRow("favor as enc_favor") << "favor" << 24 << 24 << 12;
        QTest::newRow("favor odd") << "favor" << 5 << 4 << 2;
        QTest::newRow("grf default") << "grf" << 0 << 8 << 8;
        QTest::newRow("grf 5") << "grf" << 5 << 5 << 5;
    }

    void output_dims() {
        QFETCH(QString, name);
        QFETCH(int, n_dims);
        QFETCH(int, width);
        QFETCH(int, columns);
        const auto map = feature_map(name.toStdString(), 8, n_dims);
        QCOMPARE(map->output_dims(), width);
        QCOMPARE(map->omega_columns(), columns);
        QCOMPARE(map->is_random(), columns > 0);
        const RowMatrix omega = draw(*map, 1);
        QCOMPARE(omega.rows(), columns > 0 ? 8 : 0);
        QCOMPARE(omega.cols(), columns);
        const RowMatrix phi = features(*map, uniform_matrix(3, 8, 1.0f, 2), omega);
        QCOMPARE(phi.rows(), 3);
        QCOMPARE(phi.cols(), width);
    }

    void fast_matches_scalar_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("n_dims");
        QTest::addColumn<double>("softmax_temp");
        QTest::addColumn<bool>("stabilize");
        QTest::newRow("elu") << "elu" << 0 << 0.0 << false;
        QTest::newRow("relu") << "relu" << 0 << 0.0 << false;
        QTest::newRow("silu") << "silu" << 0 << 0.0 << false;
        QTest::newRow("rff") << "rff" << 32 << 0.0 << false;
        QTest::newRow("rff odd, temp 0.5") << "rff" << 17 << 0.5 << false;
        QTest::newRow("smoothed-rff") << "smoothed-rff" << 32 << 0.0 << false;
        QTest::newRow("favor") << "favor" << 32 << 0.0 << false;
        QTest::newRow("favor odd, temp 2") << "favor" << 23 << 2.0 << false;
        QTest::newRow("favor stabilize") << "favor" << 32 << 0.0 << true;
        QTest::newRow("grf") << "grf" << 24 << 0.0 << false;
        QTest::newRow("grf temp 0.3") << "grf" << 24 << 0.3 << false;
    }

    // Every map over seeded inputs, layouts with reduce > 1 and strided views.
    void fast_matches_scalar() {
        QFETCH(QString, name);
        QFETCH(int, n_dims);
        QFETCH(double, softmax_temp);
        QFETCH(bool, stabilize);
        const RowLayout layouts[] = {{1, 1, 1}, {2, 3, 1}, {3, 4, 2}, {1, 7, 3}, {5, 1, 2}};
        for (unsigned seed = 1; seed <= 5; ++seed) {
            const int dims = 4 + 5 * int(seed);
            const auto map = feature_map(name.toStdString(), dims, n_dims, softmax_temp, stabilize);
            const RowMatrix omega = draw(*map, seed);
            const RowLayout layout = layouts[seed - 1];
            const long rows = long(layout.outer) * layout.reduce * layout.inner;
            // A view with an outer stride, as a head's columns of a projection.
            const RowMatrix wide = uniform_matrix(rows, dims + 3, 2.0f, 100 + seed);
            const ConstMatrixRef x = wide.middleCols(1, dims);
            RowMatrix fast, scalar;
            map->apply(x, omega, fast, layout);
            map->apply_scalar(x, omega, scalar, layout);
            QCOMPARE(fast.rows(), rows);
            QCOMPARE(fast.cols(), map->output_dims());
            QCOMPARE(scalar.rows(), rows);
            QCOMPARE(scalar.cols(), map->output_dims());
            STEPSCOPE_COMPARE_CLOSE(name.toStdString() + " seed " + std::to_string(seed), fast, scalar, kAbsolute,
                                    kRelative);
        }
    }

    // A state's phi is reused every step: the same shape must not reallocate.
    void phi_storage_is_reused() {
        for (const auto& name : feature_map_names()) {
            const auto map = feature_map(name, 8, 16);
            const RowMatrix omega = draw(*map, 3);
            RowMatrix phi;
            map->apply(uniform_matrix(6, 8, 1.0f, 4), omega, phi, {2, 3, 1});
            const float* storage = phi.data();
            map->apply(uniform_matrix(6, 8, 1.0f, 5), omega, phi, {2, 3, 1});
            QVERIFY2(phi.data() == storage, name.c_str());
            map->apply_scalar(uniform_matrix(6, 8, 1.0f, 6), omega, phi, {2, 3, 1});
            QVERIFY2(phi.data() == storage, name.c_str());
        }
    }

    // elu(x) + 1 is x + 1 above 0 and exp(x) below, positive even far below 0.
    void elu_is_positive() {
        const auto map = feature_map("elu", 6);
        RowMatrix x(2, 6);
        x << -40, -20, -1, 0, 0.5, 3, -5, -0.25, 1e-3, 2, -60, 7;
        for (const bool scalar : {false, true}) {
            RowMatrix phi;
            scalar ? map->apply_scalar(x, {}, phi, {}) : map->apply(x, {}, phi, {});
            QVERIFY((phi.array() > 0).all());
            for (long i = 0; i < x.size(); ++i) {
                const double want = x(i) > 0 ? x(i) + 1.0 : std::exp(double(x(i)));
                QVERIFY(std::abs(phi(i) - want) <= 1e-6 * want);
            }
        }
    }

    // silu(x) = x sigmoid(x), DeltaNet's map: its formula in double, fast and scalar.
    void silu_is_its_formula() {
        const auto map = feature_map("silu", 6);
        RowMatrix x(2, 6);
        x << -40, -20, -1, 0, 0.5, 3, -5, -0.25, 1e-3, 2, -60, 7;
        for (const bool scalar : {false, true}) {
            RowMatrix phi;
            scalar ? map->apply_scalar(x, {}, phi, {}) : map->apply(x, {}, phi, {});
            for (long i = 0; i < x.size(); ++i) {
                const double want = double(x(i)) / (1.0 + std::exp(-double(x(i))));
                QVERIFY2(std::abs(phi(i) - want) <= 1e-6 * std::max(1.0, std::abs(want)), std::to_string(x(i)).c_str());
            }
        }
    }

    void favor_is_positive() {
        for (const bool stabilize : {false, true}) {
            const auto map = feature_map("favor", 16, 64, 0, stabilize);
            const RowMatrix omega = draw(*map, 7);
            const RowMatrix x = uniform_matrix(24, 16, 3.0f, 8);
            for (const bool scalar : {false, true}) {
                RowMatrix phi;
                scalar ? map->apply_scalar(x, omega, phi, {2, 4, 3}) : map->apply(x, omega, phi, {2, 4, 3});
                QVERIFY((phi.array() > 0).all());
            }
        }
    }

    // At x = 0 every feature is exp(-log(n)/2) = 1/sqrt(n), n being n_dims even
    // when odd (F = n - 1): the reference's log(self.n_dims).
    void favor_offset_uses_n_dims() {
        for (const int n : {5, 8, 23}) {
            const auto map = feature_map("favor", 4, n);
            const RowMatrix phi = features(*map, RowMatrix::Zero(2, 4), draw(*map, 9));
            QCOMPARE(phi.cols(), 2 * (n / 2));
            QVERIFY((phi.array() - float(1 / std::sqrt(double(n)))).abs().maxCoeff() < 1e-7f);
        }
    }

    // stabilize divides each row by exp(max |x'|^2) over its (outer, inner)
    // group's `reduce` rows, row = (o * reduce + k) * inner + i.
    void favor_stabilize_reduces_over_layout() {
        const int dims = 8;
        const double temp = 1 / std::sqrt(double(dims));
        const auto plain = feature_map("favor", dims, 16);
        const auto stable = feature_map("favor", dims, 16, 0, true);
        const RowMatrix omega = draw(*plain, 10);
        const RowLayout layout{2, 3, 4};
        const RowMatrix x = uniform_matrix(24, dims, 2.0f, 11);
        const RowMatrix phi = features(*plain, x, omega, layout);
        RowMatrix phi_stable, phi_stable_scalar;
        stable->apply(x, omega, phi_stable, layout);
        stable->apply_scalar(x, omega, phi_stable_scalar, layout);
        for (int o = 0; o < layout.outer; ++o) {
            for (int i = 0; i < layout.inner; ++i) {
                double top = 0;
                for (int k = 0; k < layout.reduce; ++k)
                    top = std::max(top, temp * x.row((o * layout.reduce + k) * layout.inner + i).squaredNorm());
                for (int k = 0; k < layout.reduce; ++k) {
                    const long r = (o * layout.reduce + k) * layout.inner + i;
                    const RowVector want = phi.row(r) * float(std::exp(-top));
                    STEPSCOPE_COMPARE_CLOSE("stabilized row", phi_stable.row(r), want, 0, 1e-5);
                    STEPSCOPE_COMPARE_CLOSE("stabilized row, scalar", phi_stable_scalar.row(r), want, 0, 1e-5);
                }
            }
        }
    }

    // E[phi(x) . phi(y)] = exp(x' . y'), x' = x sqrt(softmax_temp); with n = 32768
    // the estimate is within 5% (about 8 standard deviations). The relative
    // variance of one feature grows as exp(|x' + y'|^2), hence small inputs.
    void favor_approximates_softmax_kernel() {
        const int dims = 8;
        const double temp = 1 / std::sqrt(double(dims));
        const auto map = feature_map("favor", dims, 32768);
        const RowMatrix x = uniform_matrix(6, dims, 0.5f, 12);
        for (uint64_t seed = 1; seed <= 3; ++seed) {
            const RowMatrix phi = features(*map, x, draw(*map, seed));
            for (long a = 0; a < x.rows(); ++a) {
                for (long b = a; b < x.rows(); ++b) {
                    const double want = std::exp(temp * x.row(a).dot(x.row(b)));
                    const double got = phi.row(a).dot(phi.row(b));
                    QVERIFY2(std::abs(got - want) < 0.05 * want, qPrintable(QString("%1 vs %2").arg(got).arg(want)));
                }
            }
        }
    }

    // E[phi(x) . phi(y)] = exp(-|x' - y'|^2 / 2), here to within about 9 standard
    // deviations with n = 32768; |phi(x)|^2 = 2C/n exactly.
    void rff_approximates_gaussian_kernel() {
        const int dims = 8;
        const double temp = 1 / std::sqrt(double(dims));
        const auto map = feature_map("rff", dims, 32768);
        const RowMatrix x = uniform_matrix(6, dims, 1.5f, 13);
        for (uint64_t seed = 1; seed <= 3; ++seed) {
            const RowMatrix phi = features(*map, x, draw(*map, seed));
            for (long a = 0; a < x.rows(); ++a) {
                for (long b = a + 1; b < x.rows(); ++b) {
                    const double want = std::exp(-temp * (x.row(a) - x.row(b)).squaredNorm() / 2);
                    const double got = phi.row(a).dot(phi.row(b));
                    QVERIFY2(std::abs(got - want) < 0.05, qPrintable(QString("%1 vs %2").arg(got).arg(want)));
                }
                QVERIFY(std::abs(phi.row(a).squaredNorm() - 1.0f) < 1e-4f);
            }
        }
        // The scale is sqrt(2/n) with the odd n itself.
        const auto odd = feature_map("rff", dims, 7);
        const RowMatrix phi = features(*odd, x, draw(*odd, 4));
        for (long a = 0; a < x.rows(); ++a) QVERIFY(std::abs(phi.row(a).squaredNorm() - 6.0f / 7.0f) < 1e-5f);
    }

    // smoothed-rff(n) = [rff(n - 1), 1], with the same omega.
    void smoothed_rff_appends_constant() {
        const auto smoothed = feature_map("smoothed-rff", 8, 17);
        const auto inner = feature_map("rff", 8, 16);
        QCOMPARE(smoothed->omega_columns(), inner->omega_columns());
        const RowMatrix omega = draw(*smoothed, 14);
        const RowMatrix x = uniform_matrix(5, 8, 1.0f, 15);
        const RowMatrix phi = features(*smoothed, x, omega);
        const RowMatrix rff = features(*inner, x, omega);
        QCOMPARE(phi.cols(), rff.cols() + 1);
        QVERIFY(phi.leftCols(rff.cols()) == rff);
        QVERIFY((phi.col(rff.cols()).array() == 1.0f).all());
    }

    // E[relu(w.x) relu(w.y)] over w ~ N(0, I) is the arc-cosine kernel
    // |x||y| (sin t + (pi - t) cos t) / (2 pi), t the angle between x and y.
    // omega is drawn i.i.d. here: grf's own orthogonal draw, as the reference's,
    // takes Q with Householder signs (LAPACK's and Eigen's), which put each
    // block's columns in half-spaces; favor and rff are even in w and do not
    // mind, but relu is not, and that estimate is about 10% high.
    void grf_approximates_arccos_kernel() {
        const int dims = 8, n = 65536;
        const auto map = feature_map("grf", dims, n);
        std::mt19937_64 rng(17);
        std::normal_distribution<float> normal;
        RowMatrix omega(dims, n);
        for (long i = 0; i < omega.size(); ++i) omega(i) = normal(rng);
        const RowMatrix x = uniform_matrix(5, dims, 1.0f, 16);
        const RowMatrix phi = features(*map, x, omega);
        for (long a = 0; a < x.rows(); ++a) {
            for (long b = a; b < x.rows(); ++b) {
                const double na = x.row(a).norm(), nb = x.row(b).norm();
                const double t = std::acos(std::clamp(double(x.row(a).dot(x.row(b))) / (na * nb), -1.0, 1.0));
                const double want = na * nb * (std::sin(t) + (kPi - t) * std::cos(t)) / (2 * kPi);
                const double got = phi.row(a).dot(phi.row(b)) / n;
                QVERIFY2(std::abs(got - want) < 0.05 * na * nb, qPrintable(QString("%1 vs %2").arg(got).arg(want)));
            }
        }
    }

    // 0 means the map's default: 1/sqrt(D) for the rff family, 1 for grf.
    void softmax_temp_defaults() {
        const RowMatrix x = uniform_matrix(4, 9, 1.0f, 18);
        for (const std::string name : {"rff", "smoothed-rff", "favor"}) {
            const auto implicit = feature_map(name, 9, 12);
            const auto given = feature_map(name, 9, 12, 1 / std::sqrt(9.0));
            const RowMatrix omega = draw(*implicit, 19);
            QVERIFY2(features(*implicit, x, omega) == features(*given, x, omega), name.c_str());
        }
        const auto grf = feature_map("grf", 9, 12);
        const RowMatrix omega = draw(*grf, 20);
        const RowMatrix plain = (x * omega).cwiseMax(0.0f);
        STEPSCOPE_COMPARE_CLOSE("grf temp 1", features(*grf, x, omega), plain, kAbsolute, kRelative);
        // x sqrt(4) = 2x, and relu is positively homogeneous.
        const RowMatrix doubled = 2 * plain;
        STEPSCOPE_COMPARE_CLOSE("grf temp 4", features(*feature_map("grf", 9, 12, 4.0), x, omega), doubled, kAbsolute,
                                kRelative);
    }

    void orthogonal_random_matrix_blocks_data() {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("columns");
        QTest::newRow("1 x 3") << 1 << 3;
        QTest::newRow("8 x 4") << 8 << 4;
        QTest::newRow("8 x 12") << 8 << 12;
        QTest::newRow("8 x 16") << 8 << 16;
        QTest::newRow("16 x 40") << 16 << 40;
        QTest::newRow("64 x 100") << 64 << 100;
        QTest::newRow("5 x 0") << 5 << 0;
    }

    // Columns orthogonal within each block of `rows`, and column j of a block
    // scaled by the norm of row j of the (rows, rows) Gaussian drawn for it.
    void orthogonal_random_matrix_blocks() {
        QFETCH(int, rows);
        QFETCH(int, columns);
        std::mt19937_64 rng(21), replay(21);
        const RowMatrix w = orthogonal_random_matrix(rows, columns, rng);
        QCOMPARE(w.rows(), rows);
        QCOMPARE(w.cols(), columns);
        QVERIFY(worst_block_cosine(w, rows) < 1e-4);
        std::normal_distribution<float> normal;
        for (int start = 0; start < columns; start += rows) {
            RowMatrix gaussian(rows, rows);
            for (int i = 0; i < rows; ++i)
                for (int j = 0; j < rows; ++j) gaussian(i, j) = normal(replay);
            for (int j = start; j < std::min(start + rows, columns); ++j) {
                const double want = gaussian.row(j - start).norm();
                QVERIFY2(std::abs(w.col(j).norm() - want) < 1e-5 * want, qPrintable(QString::number(j)));
            }
        }
    }

    // The norms follow chi(rows): positive, with mean sqrt(2) G((k+1)/2) / G(k/2).
    void orthogonal_random_matrix_norms_are_chi() {
        for (const int rows : {4, 8, 32}) {
            std::mt19937_64 rng(22);
            double sum = 0;
            long count = 0;
            for (int draw = 0; draw < 1000; ++draw) {
                const RowMatrix w = orthogonal_random_matrix(rows, 2 * rows, rng);
                for (long j = 0; j < w.cols(); ++j) {
                    const double norm = w.col(j).norm();
                    QVERIFY(norm > 0);
                    sum += norm;
                    ++count;
                }
            }
            const double mean = sum / count;
            QVERIFY2(std::abs(mean - chi_mean(rows)) < 0.02 * chi_mean(rows),
                     qPrintable(QString("%1 vs %2").arg(mean).arg(chi_mean(rows))));
        }
    }

    // The same seed gives the same omega; another seed another one. favor and
    // grf sample orthogonal blocks (the reference's defaults), rff i.i.d. normal.
    void draw_omega_is_reproducible() {
        for (const auto& name : feature_map_names()) {
            const auto map = feature_map(name, 8, 40);
            const RowMatrix first = draw(*map, 23), again = draw(*map, 23), other = draw(*map, 24);
            QCOMPARE(first.rows(), map->is_random() ? 8 : 0);
            QCOMPARE(first.cols(), map->omega_columns());
            QVERIFY2(first == again, name.c_str());
            if (!map->is_random()) continue;
            QVERIFY2(first != other, name.c_str());
            QVERIFY(first.allFinite());
            const bool orthogonal = name == "favor" || name == "grf";
            QVERIFY2((worst_block_cosine(first, 8) < 1e-4) == orthogonal, name.c_str());
        }
    }

    void rejects_bad_options_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("query_dimensions");
        QTest::addColumn<int>("n_dims");
        QTest::addColumn<double>("softmax_temp");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("unknown name") << "cosine" << 8 << 0 << 0.0 << "feature_map";
        QTest::newRow("empty name") << "" << 8 << 0 << 0.0 << "feature_map";
        QTest::newRow("negative n_dims") << "favor" << 8 << -3 << 0.0 << "feature_map_dimensions";
        QTest::newRow("negative n_dims, elu") << "elu" << 8 << -1 << 0.0 << "feature_map_dimensions";
        QTest::newRow("rff n_dims 1") << "rff" << 8 << 1 << 0.0 << "feature_map_dimensions";
        QTest::newRow("favor n_dims 1") << "favor" << 8 << 1 << 0.0 << "feature_map_dimensions";
        QTest::newRow("favor default from D 1") << "favor" << 1 << 0 << 0.0 << "feature_map_dimensions";
        QTest::newRow("smoothed-rff n_dims 2") << "smoothed-rff" << 8 << 2 << 0.0 << "feature_map_dimensions";
        QTest::newRow("smoothed-rff default from D 2") << "smoothed-rff" << 2 << 0 << 0.0 << "feature_map_dimensions";
        QTest::newRow("zero query_dimensions") << "elu" << 0 << 0 << 0.0 << "feature_map_dimensions";
        QTest::newRow("negative query_dimensions") << "grf" << -4 << 8 << 0.0 << "feature_map_dimensions";
        QTest::newRow("negative softmax_temp") << "rff" << 8 << 8 << -1.0 << "softmax_temp";
        QTest::newRow("nan softmax_temp") << "favor" << 8 << 8 << std::nan("") << "softmax_temp";
    }

    void rejects_bad_options() {
        QFETCH(QString, name);
        QFETCH(int, query_dimensions);
        QFETCH(int, n_dims);
        QFETCH(double, softmax_temp);
        QFETCH(QString, mentions);
        FeatureMapOptions options;
        options.name = name.toStdString();
        options.query_dimensions = query_dimensions;
        options.n_dims = n_dims;
        options.softmax_temp = softmax_temp;
        const QString message = error_of(options);
        QVERIFY2(message.contains(mentions), qPrintable(message));
        if (mentions == "feature_map" && !name.isEmpty()) {
            QVERIFY2(message.contains(name), qPrintable(message));
            for (const auto& valid : feature_map_names())
                QVERIFY2(message.contains(QString::fromStdString(valid)), qPrintable(message));
        }
    }

    void accepts_smallest_options() {
        QVERIFY(error_of({"rff", 8, 2}).isEmpty());
        QVERIFY(error_of({"favor", 2, 0}).isEmpty());
        QVERIFY(error_of({"smoothed-rff", 8, 3}).isEmpty());
        QVERIFY(error_of({"smoothed-rff", 3, 0}).isEmpty());
        QVERIFY(error_of({"grf", 1, 1}).isEmpty());
        QVERIFY(error_of({"elu", 1, 0}).isEmpty());
    }

    // Wrong input width, wrong omega, or a layout that does not cover the rows.
    void rejects_bad_shapes() {
        const auto favor = feature_map("favor", 8, 16, 0, true);
        const RowMatrix omega = draw(*favor, 25);
        RowMatrix phi;
        QVERIFY_THROWS_EXCEPTION(Error, favor->apply(uniform_matrix(6, 7, 1.0f, 26), omega, phi, {2, 3, 1}));
        const RowMatrix narrow = omega.leftCols(7);
        QVERIFY_THROWS_EXCEPTION(Error, favor->apply(uniform_matrix(6, 8, 1.0f, 26), narrow, phi, {2, 3, 1}));
        QVERIFY_THROWS_EXCEPTION(Error, favor->apply(uniform_matrix(6, 8, 1.0f, 26), omega, phi, {2, 2, 1}));
        QVERIFY_THROWS_EXCEPTION(Error, favor->apply_scalar(uniform_matrix(6, 8, 1.0f, 26), omega, phi, {1, 1, 1}));
        QVERIFY_THROWS_EXCEPTION(Error, feature_map("elu", 8)->apply(uniform_matrix(2, 9, 1.0f, 27), {}, phi, {}));
        std::mt19937_64 rng(28);
        QVERIFY_THROWS_EXCEPTION(Error, orthogonal_random_matrix(0, 4, rng));
        QVERIFY_THROWS_EXCEPTION(Error, orthogonal_random_matrix(4, -1, rng));
    }
};

QTEST_APPLESS_MAIN(FeatureMapsTest)
#include "test_feature_maps.moc"
