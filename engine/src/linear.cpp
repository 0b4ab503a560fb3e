// Dense layers: y = x W^T + b by a weight-streaming SIMD kernel over packed panels, plain loops as the reference.
//
// Hand-written because a step's products are (N, in) x (in, out) with N of 1
// to 10: Eigen's GEMM packs the weight matrix on every call and its kernels
// are tuned for large N, so it spends more time packing than multiplying.
// Here the weight is packed once, into panels of kPanel outputs, and each
// panel streams through registers exactly once per row chunk.
#include "linear.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <utility>

#if defined(EIGEN_VECTORIZE_AVX512) || defined(EIGEN_VECTORIZE_AVX2)
#include <immintrin.h>
#endif

#include "bfloat16.h"
#include "stepscope/error.h"

namespace stepscope {

namespace {

using Packet = Eigen::internal::packet_traits<float>::type;
constexpr int kLanes = Eigen::internal::packet_traits<float>::size;
constexpr int kVectorsPerPanel = 2;
constexpr int kPanel = kVectorsPerPanel * kLanes;  // outputs per panel: 32 with AVX-512

// Rows of x a kernel keeps in registers at once: two accumulators a row, plus
// the panel's two weight vectors and a broadcast must fit the register file.
constexpr int kMaxRows = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32   ? 12
                         : EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 16 ? 6
                                                                        : 3;

// How far ahead of the weight stream to prefetch. The weights come from
// memory every step; 16 KB ahead measured 1.5x faster on one core than the
// hardware prefetcher alone, 2 KB ahead hardly faster.
constexpr long kPrefetchBytes = 16384;
template <typename Weight>
constexpr long kPrefetchRows = kPrefetchBytes / (kPanel * long(sizeof(Weight)));

// Below this many multiply-adds a product runs on the calling thread: waking
// a worker costs a few microseconds, as much as a 384 x 384 product at N = 1.
constexpr long kParallelWork = 1L << 17;
// Panels per task: small enough to balance two cores when one is disturbed.
constexpr int kPanelsPerTask = 2;

// kLanes consecutive weights of a panel row as floats.
inline Packet load_weights(const float* w) { return Eigen::internal::ploadu<Packet>(w); }

// bfloat16 widens to float32 by moving its 16 bits to the top of a 32-bit lane.
inline Packet load_weights(const uint16_t* w) {
#if defined(EIGEN_VECTORIZE_AVX512)
    static_assert(kLanes == 16, "AVX-512 float packets hold 16 lanes");
    const __m256i halves = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves), 16));
#elif defined(EIGEN_VECTORIZE_AVX2)
    static_assert(kLanes == 8, "AVX float packets hold 8 lanes");
    const __m128i halves = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(halves), 16));
#else
    float widened[kLanes];
    for (int lane = 0; lane < kLanes; ++lane) widened[lane] = from_bf16(w[lane]);
    return Eigen::internal::ploadu<Packet>(widened);
#endif
}

// One panel for `Rows` rows of x:
//   y(r, j) = bias(j) + sum_i x(r, i) panel(i, j),  j < valid
// x (Rows, in) with row stride x_stride, panel (in, kPanel), bias (kPanel),
// y (Rows, >= valid) with row stride y_stride. Accumulates over i in order.
template <int Rows, typename Weight>
void panel_kernel(const float* x, long x_stride, const Weight* panel, const float* bias, long in, float* y,
                  long y_stride, int valid) {
    using namespace Eigen::internal;
    Packet acc[Rows][kVectorsPerPanel];
    for (int v = 0; v < kVectorsPerPanel; ++v) {
        const Packet b = ploadu<Packet>(bias + v * kLanes);
        for (int r = 0; r < Rows; ++r) acc[r][v] = b;
    }
    for (long i = 0; i < in; ++i) {
        Packet w[kVectorsPerPanel];
        for (int v = 0; v < kVectorsPerPanel; ++v) {
            prefetch(panel + (i + kPrefetchRows<Weight>) * kPanel + v * kLanes);
            w[v] = load_weights(panel + i * kPanel + v * kLanes);
        }
        for (int r = 0; r < Rows; ++r) {
            const Packet xi = pset1<Packet>(x[r * x_stride + i]);
            for (int v = 0; v < kVectorsPerPanel; ++v) acc[r][v] = pmadd(xi, w[v], acc[r][v]);
        }
    }
    for (int r = 0; r < Rows; ++r) {
        if (valid == kPanel) {
            for (int v = 0; v < kVectorsPerPanel; ++v) pstoreu(y + r * y_stride + v * kLanes, acc[r][v]);
            continue;
        }
        float row[kPanel];
        for (int v = 0; v < kVectorsPerPanel; ++v) pstoreu(row + v * kLanes, acc[r][v]);
        std::copy(row, row + valid, y + r * y_stride);
    }
}

template <typename Weight>
using PanelKernel = void (*)(const float*, long, const Weight*, const float*, long, float*, long, int);

template <typename Weight, size_t... R>
constexpr std::array<PanelKernel<Weight>, sizeof...(R)> make_kernels(std::index_sequence<R...>) {
    return {&panel_kernel<int(R) + 1, Weight>...};
}

// kernels[r - 1] handles r rows.
template <typename Weight>
constexpr auto kKernels = make_kernels<Weight>(std::make_index_sequence<kMaxRows>());

// y (N, out) = x (N, in) W^T + b over packed panels (P, in, kPanel).
template <typename Weight>
void packed_product(const ConstMatrixRef& x, const Weight* packed, const float* bias, long in, long out,
                    RowMatrix& y) {
    const long rows = x.rows(), x_stride = x.outerStride(), y_stride = y.outerStride();
    const int panels = static_cast<int>((out + kPanel - 1) / kPanel);
    // Rows in equal chunks of at most kMaxRows: 13 rows run as 7 + 6, not 12 + 1.
    const long chunks = (rows + kMaxRows - 1) / kMaxRows;
    const long chunk_rows = chunks ? (rows + chunks - 1) / chunks : 0;
    auto run_panels = [&](int first, int last) {
        for (int p = first; p < last; ++p) {
            const Weight* panel = packed + long(p) * in * kPanel;
            const int valid = static_cast<int>(std::min<long>(kPanel, out - long(p) * kPanel));
            // The panel stays in L1/L2 while every row chunk reads it.
            for (long r = 0; r < rows; r += chunk_rows) {
                const long count = std::min(chunk_rows, rows - r);
                kKernels<Weight>[count - 1](x.data() + r * x_stride, x_stride, panel, bias + long(p) * kPanel, in,
                                            y.data() + r * y_stride + long(p) * kPanel, y_stride, valid);
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

// W (out, in) -> panels (P, in, kPanel), converted by `convert`, zero-padded.
template <typename Weight, typename Convert>
void pack(const RowMatrix& weight, std::vector<Weight, Eigen::aligned_allocator<Weight>>& packed, Convert convert) {
    const long out = weight.rows(), in = weight.cols(), panels = (out + kPanel - 1) / kPanel;
    packed.assign(static_cast<size_t>(panels * in * kPanel), convert(0.0f));
    for (long o = 0; o < out; ++o)
        for (long i = 0; i < in; ++i) packed[((o / kPanel) * in + i) * kPanel + o % kPanel] = convert(weight(o, i));
}

}  // namespace

Linear::Linear(RowMatrix weight, Vector bias) : weight_(std::move(weight)), bias_(std::move(bias)) {
    if (bias_.size() != weight_.rows())
        throw Error("linear layer: bias has " + std::to_string(bias_.size()) + " entries for " +
                    std::to_string(weight_.rows()) + " outputs");
    pack(weight_, packed_, [](float w) { return w; });
    const long panels = (weight_.rows() + kPanel - 1) / kPanel;
    padded_bias_.assign(static_cast<size_t>(panels * kPanel), 0.0f);
    std::copy(bias_.data(), bias_.data() + bias_.size(), padded_bias_.begin());
}

void Linear::use_bf16(bool enabled) {
    packed_.clear();
    packed_bf16_.clear();
    if (enabled) pack(weight_, packed_bf16_, to_bf16);
    else pack(weight_, packed_, [](float w) { return w; });
    packed_.shrink_to_fit();
    packed_bf16_.shrink_to_fit();
}

void Linear::forward(const ConstMatrixRef& x, RowMatrix& y) const {
    if (x.cols() != in_features())
        throw Error("linear layer: input has " + std::to_string(x.cols()) + " columns, expected " +
                    std::to_string(in_features()));
    if (y.rows() != x.rows() || y.cols() != out_features()) y.resize(x.rows(), out_features());
    if (x.rows() == 0 || out_features() == 0) return;
    if (uses_bf16()) packed_product(x, packed_bf16_.data(), padded_bias_.data(), in_features(), out_features(), y);
    else packed_product(x, packed_.data(), padded_bias_.data(), in_features(), out_features(), y);
}

void Linear::forward_scalar(const ConstMatrixRef& x, RowMatrix& y) const {
    y.resize(x.rows(), out_features());
    for (Eigen::Index n = 0; n < x.rows(); ++n) {
        for (int o = 0; o < out_features(); ++o) {
            float sum = bias_[o];
            for (int i = 0; i < in_features(); ++i) {
                const float w = uses_bf16() ? round_to_bf16(weight_(o, i)) : weight_(o, i);
                sum += x(n, i) * w;
            }
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
