// Singular values of linear attention's state per head, by the Gram matrix's eigenvalues and by Jacobi SVD.
#include "stepscope/state_spectrum.h"

#include <tbb/parallel_for.h>

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>

namespace stepscope {

void singular_values(const ConstMatrixRef& sums, int features, RowMatrix& singular) {
    const int rows = static_cast<int>(sums.rows() / features), value_dims = static_cast<int>(sums.cols());
    const int rank = std::min(features, value_dims);
    singular.resize(rows, rank);
    tbb::parallel_for(0, rows, [&](int r) {
        // sigma_i(S)^2 are the eigenvalues of S S^T (D, D) or S^T S (M, M), whichever is smaller.
        const Eigen::MatrixXd s = sums.middleRows(long(r) * features, features).cast<double>();
        const Eigen::MatrixXd gram = features <= value_dims ? Eigen::MatrixXd(s * s.transpose())
                                                            : Eigen::MatrixXd(s.transpose() * s);
        const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(gram, Eigen::EigenvaluesOnly);
        for (int i = 0; i < rank; ++i)  // eigenvalues ascend
            singular(r, i) = static_cast<float>(std::sqrt(std::max(0.0, solver.eigenvalues()[rank - 1 - i])));
    });
}

void singular_values_scalar(const ConstMatrixRef& sums, int features, RowMatrix& singular) {
    const long rows = sums.rows() / features;
    const int rank = static_cast<int>(std::min<long>(features, sums.cols()));
    singular.resize(rows, rank);
    for (long r = 0; r < rows; ++r) {
        const Eigen::JacobiSVD<Eigen::MatrixXd> svd(sums.middleRows(r * features, features).cast<double>());
        for (int i = 0; i < rank; ++i) singular(r, i) = static_cast<float>(svd.singularValues()[i]);
    }
}

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
