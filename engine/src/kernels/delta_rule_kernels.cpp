// Step kernels of the delta rules (the dispatched passes of linear_kernels.h beside plain-loop references) and the
// delta-rule family's parallel form.
#include "kernels/delta_rule_kernels.h"

#include <cmath>
#include <vector>

#include "kernels/for_each_head.h"
#include "kernels/linear_kernels.h"
#include "stepscope/config.h"

namespace stepscope {

namespace {

// x (n) *= factor, a fixed instruction sequence wherever x lies.
void scale(float* x, long n, float factor) { Eigen::Map<Eigen::ArrayXf>(x, n) *= factor; }

// G (T, T): G[t, j] = alpha_{j+1} ... alpha_t for j <= t, 0 above the diagonal; from cumulative logs in double,
// so that a long product neither underflows nor loses the ratio.
RowMatrix decay_ratios(const Vector& alpha, long steps) {
    RowMatrix ratios = RowMatrix::Zero(steps, steps);
    std::vector<double> log_gamma(size_t(steps), 0.0);
    for (long t = 0; t < steps; ++t)
        log_gamma[size_t(t)] = (t ? log_gamma[size_t(t - 1)] : 0.0) + (alpha.size() ? std::log(double(alpha[t])) : 0.0);
    for (long t = 0; t < steps; ++t)
        for (long j = 0; j <= t; ++j) ratios(t, j) = float(std::exp(log_gamma[size_t(t)] - log_gamma[size_t(j)]));
    return ratios;
}

}  // namespace

void squash_gates(RowMatrix& gates) { gates = (1.0f + (-gates.array()).exp()).inverse().matrix(); }

void normalize_rows(RowMatrix& x) {
    for (long r = 0; r < x.rows(); ++r) {
        // Summed in one order wherever the row lies, so a resumed run rounds as the original did.
        float squares = 0;
        for (long f = 0; f < x.cols(); ++f) squares += x(r, f) * x(r, f);
        if (squares > 0) x.row(r) *= 1.0f / std::sqrt(squares);
    }
}

void delta_rule_weights(const ConstMatrixRef& keys, const ConstMatrixRef& queries, const Vector& beta,
                        const Vector& alpha, float scale_out, RowMatrix& weights) {
    const long steps = keys.rows();
    const RowMatrix ratios = decay_ratios(alpha, steps);
    // (I + L) X = diag(beta), L[t, j] = beta_t (k_t . k_j) G[t, j] below the diagonal.
    RowMatrix unit_lower = (keys * keys.transpose()).cwiseProduct(ratios);
    for (long t = 0; t < steps; ++t) unit_lower.row(t) *= beta[t];
    RowMatrix written = beta.asDiagonal().toDenseMatrix();
    unit_lower.triangularView<Eigen::UnitLower>().solveInPlace(written);
    const RowMatrix read = (queries * keys.transpose()).cwiseProduct(ratios) * scale_out;
    weights.noalias() = read.triangularView<Eigen::Lower>() * written;
}

void gated_linear_weights(const ConstMatrixRef& phi_k, const ConstMatrixRef& phi_q, const Vector& alpha, float eps,
                          RowMatrix& weights) {
    weights = (phi_q * phi_k.transpose()).cwiseProduct(decay_ratios(alpha, phi_k.rows()));
    for (long t = 0; t < weights.rows(); ++t) weights.row(t) /= weights.row(t).sum() + eps;
}

void delta_rule_step(const ConstMatrixRef& keys, const ConstMatrixRef& values, const ConstMatrixRef& queries,
                     const float* beta, const float* alpha, float scale_out, RowMatrix& sums, MatrixRef errors,
                     MatrixRef out, StateNorms* norms) {
    const int rows = static_cast<int>(keys.rows()), features = static_cast<int>(keys.cols());
    const int width = static_cast<int>(values.cols());
    float* sums_norms = norms ? norms->component(0, size_t(rows)).data() : nullptr;
    // The run-time dispatched passes: in a portable build Eigen's packets here are SSE only.
    const kernels::LinearKernels& kernels = kernels::linear_kernels();
    for_each_head(rows, 3L * features * width, [&](int r) {
        float* state = sums.row(long(r) * features).data();  // (F, M), rows M apart
        if (alpha) scale(state, long(features) * width, alpha[r]);
        // pass 1: what the memory predicts for the key, and the error
        float* error = errors.row(r).data();
        kernels.weighted_rows(keys.row(r).data(), state, features, width, error);
        for (int m = 0; m < width; ++m) error[m] = values(r, m) - error[m];
        // pass 2: write beta times the error at the key, and read the query, row by row of S; the
        // write's values are out's row until the pass overwrites it.
        float* written = out.row(r).data();
        for (int m = 0; m < width; ++m) written[m] = beta[r] * error[m];
        float head[kMaxHeadDimensions];
        kernels.linear_attention_head(keys.row(r).data(), queries.row(r).data(), written, features, width, state, head);
        for (int m = 0; m < width; ++m) written[m] = scale_out * head[m];
        if (sums_norms) sums_norms[r] = Eigen::Map<const Vector>(state, long(features) * width).norm();
    });
}

void reference::delta_rule_step(const ConstMatrixRef& keys, const ConstMatrixRef& values, const ConstMatrixRef& queries,
                                const float* beta, const float* alpha, float scale_out, RowMatrix& sums,
                                MatrixRef errors, MatrixRef out) {
    const long features = keys.cols(), width = values.cols();
    for (long r = 0; r < keys.rows(); ++r) {
        auto S = [&](long f, long m) -> float& { return sums(r * features + f, m); };
        for (long f = 0; f < features; ++f)
            for (long m = 0; m < width && alpha; ++m) S(f, m) *= alpha[r];
        for (long m = 0; m < width; ++m) {
            float predicted = 0;
            for (long f = 0; f < features; ++f) predicted += keys(r, f) * S(f, m);
            errors(r, m) = values(r, m) - predicted;
        }
        for (long f = 0; f < features; ++f)
            for (long m = 0; m < width; ++m) S(f, m) += beta[r] * keys(r, f) * errors(r, m);
        for (long m = 0; m < width; ++m) {
            float read = 0;
            for (long f = 0; f < features; ++f) read += queries(r, f) * S(f, m);
            out(r, m) = scale_out * read;
        }
    }
}

}  // namespace stepscope
