// Dense layers: y = x W^T + b, an Eigen product on the fast path and plain loops as the reference.
#include "stepscope/linear.h"

#include <cstring>

#include "stepscope/error.h"

namespace stepscope {

namespace {

// bfloat16 is the upper half of a float32; round to nearest even.
uint16_t to_bf16(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    const uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
    return static_cast<uint16_t>((bits + rounding) >> 16);
}

float from_bf16(uint16_t value) {
    const uint32_t bits = static_cast<uint32_t>(value) << 16;
    float out;
    std::memcpy(&out, &bits, sizeof out);
    return out;
}

}  // namespace

Linear::Linear(RowMatrix weight, Vector bias) : weight_(std::move(weight)), bias_(std::move(bias)) {
    if (bias_.size() != weight_.rows())
        throw Error("linear layer: bias has " + std::to_string(bias_.size()) + " entries for " +
                    std::to_string(weight_.rows()) + " outputs");
}

void Linear::use_bf16(bool enabled) {
    weight_bf16_.clear();
    if (!enabled) return;
    weight_bf16_.resize(static_cast<size_t>(weight_.size()));
    for (Eigen::Index i = 0; i < weight_.size(); ++i) weight_bf16_[i] = to_bf16(weight_.data()[i]);
}

void Linear::forward(const ConstMatrixRef& x, RowMatrix& y) const {
    if (y.rows() != x.rows() || y.cols() != out_features()) y.resize(x.rows(), out_features());
    if (uses_bf16()) {
        for (int o = 0; o < out_features(); ++o) {
            Eigen::Map<const Eigen::Matrix<uint16_t, Eigen::Dynamic, 1>> row(
                weight_bf16_.data() + static_cast<size_t>(o) * in_features(), in_features());
            const Vector w = row.unaryExpr([](uint16_t v) { return from_bf16(v); });
            y.col(o) = x * w;
            y.col(o).array() += bias_[o];
        }
        return;
    }
    y.noalias() = x * weight_.transpose();
    y.rowwise() += bias_.transpose();
}

void Linear::forward_scalar(const ConstMatrixRef& x, RowMatrix& y) const {
    y.resize(x.rows(), out_features());
    for (Eigen::Index n = 0; n < x.rows(); ++n) {
        for (int o = 0; o < out_features(); ++o) {
            float sum = bias_[o];
            for (int i = 0; i < in_features(); ++i) sum += x(n, i) * weight_(o, i);
            y(n, o) = sum;
        }
    }
}

Linear concatenate_outputs(const std::vector<const Linear*>& parts) {
    if (parts.empty()) return {};
    int rows = 0;
    for (const Linear* part : parts) {
        if (part->in_features() != parts.front()->in_features())
            throw Error("concatenated linear layers must read the same input width");
        rows += part->out_features();
    }
    RowMatrix weight(rows, parts.front()->in_features());
    Vector bias(rows);
    int offset = 0;
    for (const Linear* part : parts) {
        weight.middleRows(offset, part->out_features()) = part->weight();
        bias.segment(offset, part->out_features()) = part->bias();
        offset += part->out_features();
    }
    return Linear(std::move(weight), std::move(bias));
}

}  // namespace stepscope
