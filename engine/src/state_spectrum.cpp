// Singular values of linear attention's state per head, by the Gram matrix's eigenvalues and by Jacobi SVD.
#include "stepscope/state_spectrum.h"

#include <tbb/parallel_for.h>

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "view_reference.h"

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
            const double coupling = e[i], r = p + coupling;
            if (i != m - 1) e[i + 1] = s * r;
            const double previous_c = c, previous_gamma = gamma, alpha = d[i];
            c = p / r;
            s = coupling / r;
            gamma = c * (alpha - sigma) - s * previous_gamma;
            d[i + 1] = previous_gamma + (alpha - gamma);
            p = c != 0 ? gamma * gamma / c : previous_c * coupling;
        }
        e[l] = s * p;
        d[l] = sigma + gamma;
    }
}

}  // namespace

void singular_values(const ConstMatrixRef& sums, int features, RowMatrix& singular) {
    const int rows = static_cast<int>(sums.rows() / features), value_dims = static_cast<int>(sums.cols());
    const int rank = std::min(features, value_dims);
    singular.resize(rows, rank);
    tbb::parallel_for(0, rows, [&](int r) {
        // sigma_i(S)^2 are the eigenvalues of S S^T (D, D) or S^T S (M, M), whichever is smaller.
        const Eigen::MatrixXd s = sums.middleRows(long(r) * features, features).cast<double>();
        const Eigen::MatrixXd gram = features <= value_dims ? Eigen::MatrixXd(s * s.transpose())
                                                            : Eigen::MatrixXd(s.transpose() * s);
        const Eigen::Tridiagonalization<Eigen::MatrixXd> tridiagonal(gram);
        Eigen::VectorXd eigenvalues = tridiagonal.diagonal();
        Eigen::VectorXd off = tridiagonal.subDiagonal();
        tridiagonal_eigenvalues(eigenvalues.data(), off.data(), rank);
        std::sort(eigenvalues.begin(), eigenvalues.end(), std::greater<double>());
        for (int i = 0; i < rank; ++i)
            singular(r, i) = static_cast<float>(std::sqrt(std::max(0.0, eigenvalues[i])));
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
