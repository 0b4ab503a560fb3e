// Dense layers: y = x W^T + b by weight-streaming SIMD kernels over packed panels, plain loops as the reference.
//
// Hand-written because a step's products are (N, in) x (in, out) with N of 1
// to 10: Eigen's GEMM packs the weight matrix on every call and its kernels
// are tuned for large N, so it spends more time packing than multiplying.
// Here the weight is packed once, into panels of a kernel set's width, and
// each panel streams through registers exactly once per row chunk. The kernels
// (linear_kernels.h) are chosen at run time for the CPU's instruction set.
#include "layers/linear.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "kernels/bfloat16.h"
#include "kernels/linear_kernels.h"
#include "stepscope/error.h"

namespace stepscope {

namespace {

using kernels::kQ8Block;
using kernels::LinearKernels;
using kernels::PanelProduct;
using kernels::QuantisedRows;

// Below this many multiply-adds a product runs on the calling thread: waking
// a worker costs a few microseconds, as much as a 384 x 384 product at N = 1.
constexpr long kParallelWork = 1L << 17;
// Panels per task: small enough to balance two cores when one is disturbed.
constexpr int kPanelsPerTask = 2;

long blocks_of(long in) { return (in + kQ8Block - 1) / kQ8Block; }

// q8_0 of `count` values (count <= kQ8Block): quants[k] = values[k] / scale rounded to nearest
// even, scale = max |value| / 127. A block of zeros has scale 0; a NaN or an infinity leaves quants
// 0 and a non-finite scale, so the block's products are NaN, as they are in float32.
struct QuantisedBlock {
    float scale;
    int32_t sum;  // of the quants
};

// Size: kQ8Block for a whole block, which Eigen unrolls, or Eigen::Dynamic for the last one.
template <int Size>
QuantisedBlock quantise(const float* values, long count, int8_t* quants) {
    const Eigen::Map<const Eigen::Array<float, Size, 1>> block(values, count);
    Eigen::Map<Eigen::Array<int8_t, Size, 1>> quantised(quants, count);
    const float largest = block.abs().template maxCoeff<Eigen::PropagateNaN>();
    const float scale = largest / 127;
    if (!(std::isfinite(scale) && scale > 0)) {
        quantised.setZero();
        return {scale, 0};
    }
    // Whole numbers up to 127: the float sum is exact.
    const Eigen::Array<float, Size, 1, 0, kQ8Block, 1> rounded = (block * (127 / largest)).rint();
    quantised = rounded.template cast<int8_t>();
    return {scale, static_cast<int32_t>(rounded.sum())};
}

QuantisedBlock quantise_block(const float* values, long count, int8_t* quants) {
    return count == kQ8Block ? quantise<kQ8Block>(values, count, quants)
                             : quantise<Eigen::Dynamic>(values, count, quants);
}

// x (N, in) quantised per row and block, zero-padded to whole blocks.
struct QuantisedInput {
    std::vector<int8_t> quants;    // (N, blocks * kQ8Block)
    std::vector<float> scales;     // (N, blocks)
    std::vector<int32_t> offsets;  // (N, blocks): -128 x the block's sum of quants
    long blocks = 0;

    using FastQuantise = bool (*)(const float*, int8_t*, float*, int32_t*);

    // Whole blocks by `fast` where given (a kernel, bit for bit the reference), the rest by quantise_block.
    void assign(const ConstMatrixRef& x, FastQuantise fast) {
        const long rows = x.rows(), in = x.cols();
        blocks = blocks_of(in);
        const long stride = blocks * kQ8Block;
        quants.assign(static_cast<size_t>(rows * stride), 0);
        scales.resize(static_cast<size_t>(rows * blocks));
        offsets.resize(static_cast<size_t>(rows * blocks));
        for (long r = 0; r < rows; ++r)
            for (long b = 0; b < blocks; ++b) {
                int8_t* q = quants.data() + r * stride + b * kQ8Block;
                const long count = std::min<long>(kQ8Block, in - b * kQ8Block);
                const float* values = x.row(r).data() + b * kQ8Block;
                QuantisedBlock block;
                if (!(fast && count == kQ8Block && fast(values, q, &block.scale, &block.sum)))
                    block = quantise_block(values, count, q);
                scales[r * blocks + b] = block.scale;
                offsets[r * blocks + b] = -128 * block.sum;
            }
    }

    QuantisedRows rows_from(long first) const {
        const long stride = blocks * kQ8Block;
        return {quants.data() + first * stride, scales.data() + first * blocks, offsets.data() + first * blocks, stride,
                blocks};
    }
};

// y (N, out) = x (N, in) W^T + b, one kernel call per panel and chunk of rows:
// run(product, panel index) calls the format's kernel.
template <typename RunPanel>
void packed_product(const ConstMatrixRef& x, const float* bias, long out, int panel_width, int max_rows, RowMatrix& y,
                    RunPanel run) {
    const long rows = x.rows(), in = x.cols(), x_stride = x.outerStride(), y_stride = y.outerStride();
    const int panels = static_cast<int>((out + panel_width - 1) / panel_width);
    // Rows in equal chunks of at most max_rows: 13 rows run as 7 + 6, not 12 + 1.
    const long chunks = (rows + max_rows - 1) / max_rows;
    const long chunk_rows = (rows + chunks - 1) / chunks;
    auto run_panels = [&](int first, int last) {
        for (int p = first; p < last; ++p) {
            const int valid = static_cast<int>(std::min<long>(panel_width, out - long(p) * panel_width));
            // The panel stays in L1/L2 while every row chunk reads it.
            for (long r = 0; r < rows; r += chunk_rows) {
                const PanelProduct product{x.data() + r * x_stride,
                                           x_stride,
                                           static_cast<int>(std::min(chunk_rows, rows - r)),
                                           in,
                                           bias + long(p) * panel_width,
                                           y.data() + r * y_stride + long(p) * panel_width,
                                           y_stride,
                                           valid};
                run(product, p, r);
            }
        }
    };
    if (rows * in * out < kParallelWork || panels < 2) {
        run_panels(0, panels);
        return;
    }
    tbb::parallel_for(tbb::blocked_range<int>(0, panels, kPanelsPerTask),
                      [&](const tbb::blocked_range<int>& range) { run_panels(range.begin(), range.end()); });
}

// Calls pack_panel(p) for every panel p across oneTBB workers: each panel is written by one call
// from the weights alone, so the packed layout is the same whatever the split.
template <typename PackPanel>
void for_each_panel(long panels, PackPanel pack_panel) {
    tbb::parallel_for(tbb::blocked_range<long>(0, panels, kPanelsPerTask), [&](const tbb::blocked_range<long>& range) {
        for (long p = range.begin(); p < range.end(); ++p) pack_panel(p);
    });
}

// W (out, in) -> panels (P, in, width) of float weights, zero-padded.
void pack_f32(const ConstMatrixRef& weight, int width, std::vector<float, Eigen::aligned_allocator<float>>& packed) {
    const long out = weight.rows(), in = weight.cols(), panels = (out + width - 1) / width;
    packed.resize(static_cast<size_t>(panels * in * width));
    for_each_panel(panels, [&](long p) {
        float* panel = packed.data() + p * in * width;
        std::fill(panel, panel + in * width, 0.0f);
        for (long o = p * width; o < std::min(out, (p + 1) * width); ++o)
            for (long i = 0; i < in; ++i) panel[i * width + o % width] = weight(o, i);
    });
}

// The inverse of pack_f32: the panels (P, in, width) -> W (out, in).
RowMatrix unpack_f32(const float* packed, long out, long in, int width) {
    RowMatrix weight(out, in);
    for_each_panel((out + width - 1) / width, [&](long p) {
        const float* panel = packed + p * in * width;
        for (long o = p * width; o < std::min(out, (p + 1) * width); ++o)
            for (long i = 0; i < in; ++i) weight(o, i) = panel[i * width + o % width];
    });
    return weight;
}

// W (out, in) -> bfloat16 panels (P, in/2 rounded up, width, 2): output j's weights of inputs 2q
// and 2q + 1 side by side, zero-padded.
void pack_bf16(const ConstMatrixRef& weight, int width,
               std::vector<uint16_t, Eigen::aligned_allocator<uint16_t>>& packed) {
    const long out = weight.rows(), in = weight.cols(), panels = (out + width - 1) / width, pairs = (in + 1) / 2;
    const long panel_size = pairs * width * 2;
    packed.resize(static_cast<size_t>(panels * panel_size));
    for_each_panel(panels, [&](long p) {
        uint16_t* panel = packed.data() + p * panel_size;
        std::fill(panel, panel + panel_size, to_bf16(0.0f));
        for (long o = p * width; o < std::min(out, (p + 1) * width); ++o)
            for (long i = 0; i < in; ++i) panel[((i / 2) * width + o % width) * 2 + i % 2] = to_bf16(weight(o, i));
    });
}

// W (out, in) -> q8 panels (P, blocks, [width scales, (kQ8Block / 4, width, 4) quants + 128]).
void pack_q8(const ConstMatrixRef& weight, int width, std::vector<uint8_t, Eigen::aligned_allocator<uint8_t>>& packed) {
    const long out = weight.rows(), in = weight.cols(), panels = (out + width - 1) / width, blocks = blocks_of(in);
    const long scale_bytes = width * long(sizeof(float)), block_bytes = scale_bytes + long(kQ8Block) * width;
    packed.resize(static_cast<size_t>(panels * blocks * block_bytes));
    for_each_panel(panels, [&](long p) {
        uint8_t* panel = packed.data() + p * blocks * block_bytes;
        std::fill(panel, panel + blocks * block_bytes, uint8_t(128));
        int8_t quants[kQ8Block];
        for (long j = 0; j < width; ++j) {
            const long o = p * width + j;
            for (long b = 0; b < blocks; ++b) {
                uint8_t* block = panel + b * block_bytes;
                float scale = 0;
                if (o < out) {
                    const long count = std::min<long>(kQ8Block, in - b * kQ8Block);
                    scale = quantise_block(weight.row(o).data() + b * kQ8Block, count, quants).scale;
                    for (long k = 0; k < count; ++k)
                        block[scale_bytes + ((k / 4) * width + j) * 4 + k % 4] = static_cast<uint8_t>(quants[k] + 128);
                }
                std::memcpy(block + j * sizeof(float), &scale, sizeof scale);
            }
        }
    });
}

}  // namespace

Linear::Linear() : kernels_(&kernels::linear_kernels()) {}

Linear::Linear(const ConstMatrixRef& weight, const Vector& bias, WeightFormat format)
    : in_(static_cast<int>(weight.cols())),
      out_(static_cast<int>(weight.rows())),
      bias_(bias),
      format_(format),
      kernels_(&kernels::linear_kernels()) {
    if (bias_.size() != weight.rows())
        throw Error("linear layer: bias has " + std::to_string(bias_.size()) + " entries for " +
                    std::to_string(weight.rows()) + " outputs");
    pack(weight);
    if (format_ != WeightFormat::F32) weight_ = weight;
    const long panels = (out_ + kernels_->panel - 1) / kernels_->panel;
    padded_bias_.assign(static_cast<size_t>(panels * kernels_->panel), 0.0f);
    std::copy(bias_.data(), bias_.data() + bias_.size(), padded_bias_.begin());
}

RowMatrix Linear::weight() const {
    if (format_ != WeightFormat::F32) return weight_;
    return unpack_f32(packed_.data(), out_, in_, kernels_->panel);
}

void Linear::use_format(WeightFormat format) {
    if (format == format_) return;
    RowMatrix original = weight();
    format_ = format;
    pack(original);
    // Under F32 the panels are the weights; the reduced formats keep the originals for saving.
    weight_ = format == WeightFormat::F32 ? RowMatrix() : std::move(original);
}

void Linear::pack(const ConstMatrixRef& weight) {
    AlignedVector<float>().swap(packed_);
    AlignedVector<uint16_t>().swap(packed_bf16_);
    AlignedVector<uint8_t>().swap(packed_q8_);
    const int width = kernels_->panel;
    switch (format_) {
        case WeightFormat::F32: pack_f32(weight, width, packed_); break;
        case WeightFormat::Bf16: pack_bf16(weight, width, packed_bf16_); break;
        case WeightFormat::Q8: pack_q8(weight, width, packed_q8_); break;
    }
}

std::size_t Linear::packed_bytes() const {
    return packed_.size() * sizeof(float) + packed_bf16_.size() * sizeof(uint16_t) + packed_q8_.size();
}

void Linear::forward(const ConstMatrixRef& x, RowMatrix& y) const {
    if (x.cols() != in_features())
        throw Error("linear layer: input has " + std::to_string(x.cols()) + " columns, expected " +
                    std::to_string(in_features()));
    if (y.rows() != x.rows() || y.cols() != out_features()) y.resize(x.rows(), out_features());
    if (x.rows() == 0 || out_features() == 0) return;
    const LinearKernels& k = *kernels_;
    const long in = in_features(), width = k.panel;
    switch (format_) {
        case WeightFormat::F32:
            packed_product(x, padded_bias_.data(), out_features(), k.panel, k.max_rows, y,
                           [&](const PanelProduct& product, int p, long) {
                               k.f32(product, packed_.data() + p * in * width);
                           });
            break;
        case WeightFormat::Bf16: {
            // bfloat16 products, as a bfloat16 matrix product computes them: the input rounded too.
            // Per calling thread, named by reference, as q8's buffers below.
            thread_local std::vector<float> buffer;
            std::vector<float>& rounded = buffer;
            rounded.resize(static_cast<size_t>(x.rows() * in));
            Eigen::Map<RowMatrix> rounded_x(rounded.data(), x.rows(), in);
            rounded_x = x.unaryExpr([](float v) { return round_to_bf16(v); });
            const long panel_size = (in + 1) / 2 * 2 * width;
            packed_product(rounded_x, padded_bias_.data(), out_features(), k.panel, k.max_rows, y,
                           [&](const PanelProduct& product, int p, long) {
                               k.bf16(product, packed_bf16_.data() + p * panel_size);
                           });
            break;
        }
        case WeightFormat::Q8: {
            // Per calling thread: a step allocates nothing once the buffers have grown to its batch.
            // Named by reference, so the workers read the caller's buffers, not their own.
            thread_local QuantisedInput buffers;
            QuantisedInput& quantised = buffers;
            quantised.assign(x, k.quantise_block);
            const long panel_bytes = quantised.blocks * (width * long(sizeof(float)) + kQ8Block * width);
            packed_product(x, padded_bias_.data(), out_features(), k.panel, k.max_rows_q8, y,
                           [&](const PanelProduct& product, int p, long first_row) {
                               k.q8(product, quantised.rows_from(first_row), packed_q8_.data() + p * panel_bytes);
                           });
            break;
        }
    }
}

void Linear::forward_scalar(const ConstMatrixRef& x, RowMatrix& y) const {
    const RowMatrix weights = weight();
    y.resize(x.rows(), out_features());
    if (format_ == WeightFormat::Q8) {
        // sum over blocks b of (integer sum_k qx(n, b, k) qw(o, b, k)) * scale_w(o, b) * scale_x(n, b)
        QuantisedInput input;
        input.assign(x, nullptr);
        const long blocks = input.blocks, stride = blocks * kQ8Block;
        std::vector<int8_t> weight_quants(static_cast<size_t>(stride));
        for (int o = 0; o < out_features(); ++o) {
            std::vector<float> weight_scales(static_cast<size_t>(blocks));
            std::fill(weight_quants.begin(), weight_quants.end(), 0);
            for (long b = 0; b < blocks; ++b)
                weight_scales[b] = quantise_block(weights.row(o).data() + b * kQ8Block,
                                                  std::min<long>(kQ8Block, in_features() - b * kQ8Block),
                                                  weight_quants.data() + b * kQ8Block)
                                       .scale;
            for (Eigen::Index n = 0; n < x.rows(); ++n) {
                float sum = bias_[o];
                for (long b = 0; b < blocks; ++b) {
                    int32_t dot = 0;
                    for (long k = b * kQ8Block; k < (b + 1) * kQ8Block; ++k)
                        dot += int32_t(input.quants[n * stride + k]) * weight_quants[k];
                    sum += float(dot) * (weight_scales[b] * input.scales[n * blocks + b]);
                }
                y(n, o) = sum;
            }
        }
        return;
    }
    for (Eigen::Index n = 0; n < x.rows(); ++n) {
        for (int o = 0; o < out_features(); ++o) {
            float sum = bias_[o];
            for (int i = 0; i < in_features(); ++i) {
                const float w = format_ == WeightFormat::Bf16 ? round_to_bf16(weights(o, i)) : weights(o, i);
                sum += (format_ == WeightFormat::Bf16 ? round_to_bf16(x(n, i)) : x(n, i)) * w;
            }
            y(n, o) = sum;
        }
    }
}

const char* linear_kernel_isa() { return kernels::linear_kernels().isa; }

}  // namespace stepscope
