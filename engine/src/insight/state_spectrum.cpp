// Singular values of linear attention's state per head, by the Gram matrix's eigenvalues and by Jacobi SVD.
#include "stepscope/state_spectrum.h"

#include <tbb/parallel_for.h>

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "insight/view_reference.h"

namespace stepscope {

namespace {

// The eigenvalues of a symmetric tridiagonal matrix T: diagonal d (n), subdiagonal e (n - 1),
// e[i] coupling d[i] and d[i + 1]; the eigenvalues replace d, unordered, and e is destroyed.
// The Pal-Walker-Kahan QL iteration of LAPACK's dsterf, which works on the squared couplings
// so that its inner loop takes no square root. Eigen's eigenvalue-only solver spent two thirds
// of an observed seed-example step here, chasing the Gram matrices' tiny eigenvalues.
void tridiagonal_eigenvalues(double* d, double* e, int n) {
    // A coupling below eps ||T|| moves no eigenvalue by more than that, and so no singular value of S
    // by more than sqrt(eps) sigma_max: it is dropped (chasing tiny eigenvalues to full relative
    // accuracy would take most of the iterations).
    double norm = 0;  // the largest absolute row sum of T, at least its largest eigenvalue
    for (int i = 0; i < n; ++i)
        norm = std::max(norm, std::abs(d[i]) + (i > 0 ? std::abs(e[i - 1]) : 0.0) + (i + 1 < n ? std::abs(e[i]) : 0.0));
    const double bound = std::numeric_limits<double>::epsilon() * norm;
    const double negligible = bound * bound;
    for (int i = 0; i + 1 < n; ++i) e[i] *= e[i];  // squared couplings from here on
    int iterations = 0;
    for (int l = 0; l < n;) {
        // The first negligible coupling from l on splits off the block [l, m].
        int m = l;
        while (m + 1 < n && e[m] > negligible) ++m;
        if (m == l) {  // d[l] is an eigenvalue
            ++l;
            continue;
        }
        if (m == l + 1) {  // a 2 x 2 block: its eigenvalues directly
            const double mean = 0.5 * (d[l] + d[l + 1]), half = 0.5 * (d[l] - d[l + 1]);
            const double radius = std::sqrt(half * half + e[l]);
            d[l] = mean + radius;
            d[l + 1] = mean - radius;
            l += 2;
            continue;
        }
        if (++iterations > 30 * n) {  // never seen; NaN says so on the plots rather than ending the run
            std::fill(d + l, d + n, std::numeric_limits<double>::quiet_NaN());
            return;
        }
        // Wilkinson's shift from the top 2 x 2, then one implicit QL sweep from m up to l.
        const double root = std::sqrt(e[l]);
        double sigma = (d[l + 1] - d[l]) / (2 * root);
        sigma = d[l] - root / (sigma + std::copysign(std::sqrt(sigma * sigma + 1), sigma));
        double c = 1, s = 0, gamma = d[m] - sigma, p = gamma * gamma;
        for (int i = m - 1; i >= l; --i) {
            // Both reciprocals start together, so that one division's latency, not three, chains the steps.
            const double coupling = e[i], r = p + coupling, inverse_r = 1 / r, inverse_p = 1 / p;
            if (i != m - 1) e[i + 1] = s * r;
            const double previous_c = c, previous_gamma = gamma, alpha = d[i];
            c = p * inverse_r;
            s = coupling * inverse_r;
            gamma = c * (alpha - sigma) - s * previous_gamma;
            d[i + 1] = previous_gamma + (alpha - gamma);
            p = c != 0 ? gamma * gamma * (r * inverse_p) : previous_c * coupling;  // gamma^2 / c
        }
        e[l] = s * p;
        d[l] = sigma + gamma;
    }
}

// Householder reduction of the symmetric matrix a (n, n), read from its lower triangle, to tridiagonal
// form: diagonal d (n), subdiagonal e (n - 1); a is destroyed. Hand-written because for a head's Gram
// matrix of a few dozen rows these plain loops measured faster than Eigen's dynamic-size Tridiagonalization.
void tridiagonalize(Eigen::MatrixXd& a, double* d, double* e, Eigen::VectorXd& v, Eigen::VectorXd& w) {
    const int n = static_cast<int>(a.rows());
    for (int k = 0; k + 2 < n; ++k) {
        // The reflection H = I - tau v v^T maps column k below the diagonal, x, onto beta e_1.
        double tail = 0;  // ||x||^2 without its first entry
        for (int i = k + 2; i < n; ++i) tail += a(i, k) * a(i, k);
        const double alpha = a(k + 1, k);
        d[k] = a(k, k);
        if (tail == 0) {  // x is already a multiple of e_1
            e[k] = alpha;
            continue;
        }
        const double norm = std::sqrt(alpha * alpha + tail), beta = alpha >= 0 ? -norm : norm;
        const double tau = 1 / (norm * (norm + std::abs(alpha)));  // 2 / (v^T v), without cancellation
        v[k + 1] = alpha - beta;
        for (int i = k + 2; i < n; ++i) v[i] = a(i, k);
        // p = tau A v over the trailing block, each stored entry used for both of its places.
        for (int i = k + 1; i < n; ++i) w[i] = a(i, i) * v[i];
        for (int j = k + 1; j < n; ++j) {
            double dot = 0;
            for (int i = j + 1; i < n; ++i) {
                w[i] += a(i, j) * v[j];
                dot += a(i, j) * v[i];
            }
            w[j] += dot;
        }
        double pv = 0;
        for (int i = k + 1; i < n; ++i) pv += (w[i] *= tau) * v[i];
        // H A H = A - v w^T - w v^T with w = p - (tau / 2) (p^T v) v.
        for (int i = k + 1; i < n; ++i) w[i] -= 0.5 * tau * pv * v[i];
        for (int j = k + 1; j < n; ++j)
            for (int i = j; i < n; ++i) a(i, j) -= v[i] * w[j] + w[i] * v[j];
        e[k] = beta;
    }
    if (n >= 2) {
        d[n - 2] = a(n - 2, n - 2);
        e[n - 2] = a(n - 1, n - 2);
    }
    if (n >= 1) d[n - 1] = a(n - 1, n - 1);
}

}  // namespace

void singular_values(const ConstMatrixRef& sums, int features, RowMatrix& singular) {
    const int rows = static_cast<int>(sums.rows() / features), value_dims = static_cast<int>(sums.cols());
    const int rank = std::min(features, value_dims);
    singular.resize(rows, rank);
    tbb::parallel_for(0, rows, [&](int r) {
        // sigma_i(S)^2 are the eigenvalues of S S^T (D, D) or S^T S (M, M), whichever is smaller;
        // only its lower triangle is formed.
        const Eigen::MatrixXd s = sums.middleRows(long(r) * features, features).cast<double>();
        Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(rank, rank);
        if (features <= value_dims) gram.selfadjointView<Eigen::Lower>().rankUpdate(s);
        else gram.selfadjointView<Eigen::Lower>().rankUpdate(s.transpose());
        Eigen::VectorXd eigenvalues(rank), off(std::max(rank - 1, 0)), v(rank), w(rank);
        tridiagonalize(gram, eigenvalues.data(), off.data(), v, w);
        tridiagonal_eigenvalues(eigenvalues.data(), off.data(), rank);
        std::sort(eigenvalues.begin(), eigenvalues.end(), std::greater<double>());
        for (int i = 0; i < rank; ++i) singular(r, i) = static_cast<float>(std::sqrt(std::max(0.0, eigenvalues[i])));
    });
}

namespace reference {

void singular_values(const ConstMatrixRef& sums, int features, RowMatrix& singular) {
    const long rows = sums.rows() / features;
    const int rank = static_cast<int>(std::min<long>(features, sums.cols()));
    singular.resize(rows, rank);
    for (long r = 0; r < rows; ++r) {
        const Eigen::JacobiSVD<Eigen::MatrixXd> svd(sums.middleRows(r * features, features).cast<double>());
        for (int i = 0; i < rank; ++i) singular(r, i) = static_cast<float>(svd.singularValues()[i]);
    }
}

}  // namespace reference

float effective_rank(const float* sigma, int count) {
    double total = 0;
    for (int i = 0; i < count; ++i) total += sigma[i];
    if (total <= 0) return 0.0f;
    double entropy = 0;
    for (int i = 0; i < count; ++i)
        if (sigma[i] > 0) entropy -= sigma[i] / total * std::log(sigma[i] / total);
    return static_cast<float>(std::exp(entropy));
}

}  // namespace stepscope
