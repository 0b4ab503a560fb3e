// LayerNorm over the last dimension and the relu/gelu activations.
#include "layers/layer_norm_activation.h"

#include <cmath>

#include <unsupported/Eigen/SpecialFunctions>

namespace stepscope {

namespace {

// term(i) summed over i < n in 16 lanes and then across them, in that order at any address: Eigen's sums
// start their packets at the first aligned element, so a row met in a step and again in a block (at
// another alignment) would round differently.
template <typename Term>
float fixed_order_sum(Eigen::Index n, Term term) {
    constexpr int kLanes = 16;
    float lanes[kLanes] = {};
    Eigen::Index i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) lanes[j] += term(i + j);
    for (int j = 0; i < n; ++i, ++j) lanes[j] += term(i);
    float total = 0;
    for (float lane : lanes) total += lane;
    return total;
}

}  // namespace

// y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance as torch.
void LayerNorm::apply(MatrixRef x) const {
    const Eigen::Index columns = x.cols();
    const float width = static_cast<float>(columns);
    for (Eigen::Index n = 0; n < x.rows(); ++n) {
        auto row = x.row(n).array();
        const float* values = x.row(n).data();
        const float mean = fixed_order_sum(columns, [values](Eigen::Index i) { return values[i]; }) / width;
        row -= mean;
        const float variance =
            fixed_order_sum(columns, [values](Eigen::Index i) { return values[i] * values[i]; }) / width;
        row *= 1.0f / std::sqrt(variance + kEps);
        row = row * weight.transpose().array() + bias.transpose().array();
    }
}

void LayerNorm::apply_scalar(MatrixRef x) const {
    const Eigen::Index width = x.cols();
    for (Eigen::Index n = 0; n < x.rows(); ++n) {
        double mean = 0;
        for (Eigen::Index i = 0; i < width; ++i) mean += x(n, i);
        mean /= width;
        double variance = 0;
        for (Eigen::Index i = 0; i < width; ++i) variance += (x(n, i) - mean) * (x(n, i) - mean);
        variance /= width;
        const double inverse = 1.0 / std::sqrt(variance + kEps);
        for (Eigen::Index i = 0; i < width; ++i)
            x(n, i) = static_cast<float>((x(n, i) - mean) * inverse * weight[i] + bias[i]);
    }
}

// gelu(x) = x/2 (1 + erf(x / sqrt 2)), the exact form of F.gelu.
void apply_activation(Activation activation, MatrixRef x) {
    if (activation == Activation::Relu) {
        x = x.cwiseMax(0.0f);
        return;
    }
    auto values = x.array();
    values = 0.5f * values * (1.0f + (values * float(M_SQRT1_2)).erf());
}

void reference::apply_activation(Activation activation, MatrixRef x) {
    for (Eigen::Index n = 0; n < x.rows(); ++n) {
        for (Eigen::Index i = 0; i < x.cols(); ++i) {
            const float v = x(n, i);
            x(n, i) = activation == Activation::Relu ? (v > 0 ? v : 0.0f)
                                                     : 0.5f * v * (1.0f + std::erf(v * float(M_SQRT1_2)));
        }
    }
}

}  // namespace stepscope
