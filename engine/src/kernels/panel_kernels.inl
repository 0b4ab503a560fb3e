// The panel kernels of linear_kernels.h over one instruction set's operations `Ops`. Included
// only by the per-ISA translation units, inside their anonymous namespace: plain loops and the
// operations Ops gives, no Eigen and no standard-library templates (see linear_kernels.h).
//
// Ops: kLanes floats per vector F, integer vector I, and
//   zero, load, store, broadcast, mul, fmadd(a, b, c) = a b + c   float vectors
//   widen_bf16(p, first, second)   kLanes pairs of bfloat16 -> the low halves' and the high halves' floats
//   load_bf16(p)                   kLanes consecutive bfloat16 -> one float vector
//   load_quants, broadcast4        kLanes x 4 unsigned weight bytes; 4 signed input bytes to every lane
//   block_start(offset), dot4      per lane: sums + sum of the 4 byte products (+128 cancelled)
//   to_float                       int32 lanes -> floats
//   abs, max, add, reduce_max, reduce_add, round, store_bytes   for quantise_block
//   min, broadcast_int, exponent_bits (int32 n -> the float with those exponent bits)   for exp

constexpr int kVectorsPerPanel = 2;
constexpr int kPanel = kVectorsPerPanel * Ops::kLanes;
using F = typename Ops::F;
using I = typename Ops::I;

// How far ahead of the weight stream to prefetch. The weights come from
// memory every step; 16 KB ahead measured 1.5x faster on one core than the
// hardware prefetcher alone, 2 KB ahead hardly faster.
constexpr long kPrefetchBytes = 16384;
constexpr int kCacheLine = 64;

inline void prefetch_bytes(const void* start, long bytes) {
    const char* p = static_cast<const char*>(start);
    for (long b = 0; b < bytes; b += kCacheLine) _mm_prefetch(p + b, _MM_HINT_T0);
}

template <int Rows>
void load_bias(const PanelProduct& p, F (&acc)[Rows][kVectorsPerPanel]) {
    for (int v = 0; v < kVectorsPerPanel; ++v) {
        const F b = Ops::load(p.bias + v * Ops::kLanes);
        for (int r = 0; r < Rows; ++r) acc[r][v] = b;
    }
}

// The first `valid` outputs of each row to y.
template <int Rows>
void store_rows(const PanelProduct& p, F (&acc)[Rows][kVectorsPerPanel]) {
    for (int r = 0; r < Rows; ++r) {
        float* y = p.y + r * p.y_stride;
        if (p.valid == kPanel) {
            for (int v = 0; v < kVectorsPerPanel; ++v) Ops::store(y + v * Ops::kLanes, acc[r][v]);
            continue;
        }
        float row[kPanel];
        for (int v = 0; v < kVectorsPerPanel; ++v) Ops::store(row + v * Ops::kLanes, acc[r][v]);
        for (int j = 0; j < p.valid; ++j) y[j] = row[j];
    }
}

// Float32 weights: y(r, j) = bias(j) + sum_i x(r, i) panel(i, j), summed over i in order.
template <int Rows>
void float_panel(const PanelProduct& p, const float* panel) {
    constexpr long row_bytes = kPanel * long(sizeof(float));
    constexpr long rows_ahead = kPrefetchBytes / row_bytes;
    F acc[Rows][kVectorsPerPanel];
    load_bias(p, acc);
    for (long i = 0; i < p.in; ++i) {
        const float* row = panel + i * kPanel;
        prefetch_bytes(row + rows_ahead * kPanel, row_bytes);
        F w[kVectorsPerPanel];
        for (int v = 0; v < kVectorsPerPanel; ++v) w[v] = Ops::load(row + v * Ops::kLanes);
        for (int r = 0; r < Rows; ++r) {
            const F xi = Ops::broadcast(p.x[r * p.x_stride + i]);
            for (int v = 0; v < kVectorsPerPanel; ++v) acc[r][v] = Ops::fmadd(xi, w[v], acc[r][v]);
        }
    }
    store_rows(p, acc);
}

// bfloat16 weights in pairs of inputs, widened to floats: the same sums as float_panel, i in order.
template <int Rows>
void bf16_panel(const PanelProduct& p, const uint16_t* panel) {
    constexpr long pair_row = 2 * kPanel;  // bfloat16 values of one pair of inputs
    constexpr long rows_ahead = kPrefetchBytes / (pair_row * long(sizeof(uint16_t)));
    F acc[Rows][kVectorsPerPanel];
    load_bias(p, acc);
    for (long i = 0; i < p.in; i += 2) {
        const uint16_t* row = panel + (i / 2) * pair_row;
        prefetch_bytes(row + rows_ahead * pair_row, pair_row * long(sizeof(uint16_t)));
        F first[kVectorsPerPanel], second[kVectorsPerPanel];
        for (int v = 0; v < kVectorsPerPanel; ++v) Ops::widen_bf16(row + v * 2 * Ops::kLanes, first[v], second[v]);
        const bool pair = i + 1 < p.in;
        for (int r = 0; r < Rows; ++r) {
            const float* x = p.x + r * p.x_stride + i;
            const F x_first = Ops::broadcast(x[0]);
            for (int v = 0; v < kVectorsPerPanel; ++v) acc[r][v] = Ops::fmadd(x_first, first[v], acc[r][v]);
            if (!pair) continue;
            const F x_second = Ops::broadcast(x[1]);
            for (int v = 0; v < kVectorsPerPanel; ++v) acc[r][v] = Ops::fmadd(x_second, second[v], acc[r][v]);
        }
    }
    store_rows(p, acc);
}

// q8 weights and inputs: per block b of kQ8Block inputs, the integer dot product of the quants,
// then y(r, j) += (that sum) * weight scale(b, j) * input scale(r, b), blocks in order.
template <int Rows>
void q8_panel(const PanelProduct& p, const QuantisedRows& x, const uint8_t* panel) {
    constexpr long scale_bytes = kPanel * long(sizeof(float));
    constexpr long block_bytes = scale_bytes + long(kQ8Block) * kPanel;
    constexpr long blocks_ahead = kPrefetchBytes / block_bytes + 1;
    constexpr int groups = kQ8Block / 4;
    F acc[Rows][kVectorsPerPanel];
    load_bias(p, acc);
    for (long b = 0; b < x.blocks; ++b) {
        const uint8_t* block = panel + b * block_bytes;
        prefetch_bytes(block + blocks_ahead * block_bytes, block_bytes);
        I sums[Rows][kVectorsPerPanel];
        for (int r = 0; r < Rows; ++r)
            for (int v = 0; v < kVectorsPerPanel; ++v) sums[r][v] = Ops::block_start(x.offsets[r * x.blocks + b]);
        const uint8_t* quants = block + scale_bytes;
        for (int g = 0; g < groups; ++g) {
            I w[kVectorsPerPanel];
            for (int v = 0; v < kVectorsPerPanel; ++v)
                w[v] = Ops::load_quants(quants + (g * kPanel + v * Ops::kLanes) * 4);
            for (int r = 0; r < Rows; ++r) {
                const I x4 = Ops::broadcast4(x.quants + r * x.stride + b * kQ8Block + g * 4);
                for (int v = 0; v < kVectorsPerPanel; ++v) sums[r][v] = Ops::dot4(sums[r][v], w[v], x4);
            }
        }
        const float* weight_scales = reinterpret_cast<const float*>(block);
        F scales[kVectorsPerPanel];
        for (int v = 0; v < kVectorsPerPanel; ++v) scales[v] = Ops::load(weight_scales + v * Ops::kLanes);
        for (int r = 0; r < Rows; ++r) {
            const F input_scale = Ops::broadcast(x.scales[r * x.blocks + b]);
            for (int v = 0; v < kVectorsPerPanel; ++v)
                acc[r][v] = Ops::fmadd(Ops::to_float(sums[r][v]), Ops::mul(scales[v], input_scale), acc[r][v]);
        }
    }
    store_rows(p, acc);
}

// One head of linear attention, features in order:
//   sums(f, :) += phi_k[f] values;  out += phi_q[f] sums(f, :)
// sums (features, width) with rows `width` apart, values and out (width).
void linear_attention_head(const float* phi_k, const float* phi_q, const float* values, long features, long width,
                           float* sums, float* out) {
    long m = 0;
    for (; m + Ops::kLanes <= width; m += Ops::kLanes) {
        const F v = Ops::load(values + m);
        F acc = Ops::zero();
        for (long f = 0; f < features; ++f) {
            float* row = sums + f * width + m;
            const F updated = Ops::fmadd(Ops::broadcast(phi_k[f]), v, Ops::load(row));
            Ops::store(row, updated);
            acc = Ops::fmadd(Ops::broadcast(phi_q[f]), updated, acc);
        }
        Ops::store(out + m, acc);
    }
    for (; m < width; ++m) {
        float acc = 0;
        for (long f = 0; f < features; ++f) {
            float& s = sums[f * width + m];
            s += phi_k[f] * values[m];
            acc += phi_q[f] * s;
        }
        out[m] = acc;
    }
}

// q8_0 of kQ8Block finite inputs, as linear.cpp's reference quantises them:
//   scale = max |v| / 127, quants = rint(v * (127 / max |v|)), sum = sum of the quants.
// Returns false, writing nothing, where a value is not finite: the reference handles those.
bool quantise_block(const float* values, int8_t* quants, float* scale, int32_t* sum) {
    constexpr int vectors = kQ8Block / Ops::kLanes;
    F v[vectors];
    F largest = Ops::zero(), non_finite = Ops::zero();  // x * 0 is NaN for a NaN or an infinity only
    for (int k = 0; k < vectors; ++k) {
        v[k] = Ops::load(values + k * Ops::kLanes);
        largest = Ops::max(largest, Ops::abs(v[k]));
        non_finite = Ops::add(non_finite, Ops::mul(v[k], Ops::zero()));
    }
    if (Ops::reduce_add(non_finite) != 0) return false;
    const float top = Ops::reduce_max(largest);
    *scale = top / 127;
    const F inverse = Ops::broadcast(top > 0 ? 127 / top : 0);
    I total = Ops::round(Ops::zero());
    for (int k = 0; k < vectors; ++k) {
        const I q = Ops::round(Ops::mul(v[k], inverse));
        total = Ops::add(total, q);
        Ops::store_bytes(quants + k * Ops::kLanes, q);
    }
    *sum = Ops::reduce_add(total);
    return true;
}

// exp(v) for v <= 0 as Cephes' expf: 2^n e^r with n = round(v / ln 2), |r| <= ln 2 / 2, e^r a
// polynomial; within 2 ulp of std::exp down to -87.3 (where exp reaches the smallest normal float),
// which lower inputs give instead of a subnormal. A NaN stays NaN (min and max return their second
// operand for a NaN).
F exp_non_positive(F v) {
    v = Ops::max(Ops::broadcast(-87.33654f), v);
    const I n = Ops::round(Ops::mul(v, Ops::broadcast(1.44269504088896341f)));
    const F nf = Ops::to_float(n);
    F r = Ops::fmadd(nf, Ops::broadcast(-0.693359375f), v);
    r = Ops::fmadd(nf, Ops::broadcast(2.12194440e-4f), r);
    constexpr float kPolynomial[] = {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f,
                                     5.0000001201e-1f};
    F p = Ops::broadcast(1.9875691500e-4f);
    for (const float c : kPolynomial) p = Ops::fmadd(p, r, Ops::broadcast(c));
    const F e_r = Ops::fmadd(Ops::mul(p, r), r, Ops::add(r, Ops::broadcast(1.0f)));
    return Ops::mul(e_r, Ops::exponent_bits(Ops::add(n, Ops::broadcast_int(127))));
}

// out[k] = op(x[k]) for the tail k in [first, n) of fewer than kLanes values, through a padded
// vector, so every element is computed as the whole vectors before it were.
template <typename Op>
void padded_tail(const float* x, long first, long n, float* out, Op op) {
    if (first == n) return;
    float padded[Ops::kLanes] = {};
    for (long k = first; k < n; ++k) padded[k - first] = x[k];
    Ops::store(padded, op(Ops::load(padded)));
    for (long k = first; k < n; ++k) out[k] = padded[k - first];
}

// The elu feature map: out = v + 1 for v > 0, exp(v) otherwise, as max(v, 0) + exp(min(v, 0)).
void elu_plus_one(const float* x, long n, float* out) {
    const auto elu = [](F v) { return Ops::add(Ops::max(Ops::zero(), v), exp_non_positive(Ops::min(Ops::zero(), v))); };
    long i = 0;
    for (; i + Ops::kLanes <= n; i += Ops::kLanes) Ops::store(out + i, elu(Ops::load(x + i)));
    padded_tail(x, i, n, out, elu);
}

// Softmax in place over scores (count >= 1): exp(s - max) / their sum, the sum in one fixed order
// (the vectors' lanes, then the tail in order).
void softmax(float* scores, int count) {
    const int packed = count / Ops::kLanes * Ops::kLanes;
    F largest = Ops::broadcast(scores[0]);
    for (int i = 0; i < packed; i += Ops::kLanes) largest = Ops::max(largest, Ops::load(scores + i));
    float top = Ops::reduce_max(largest);
    for (int i = packed; i < count; ++i) top = scores[i] > top ? scores[i] : top;
    const F minus_top = Ops::broadcast(-top);
    const auto shifted_exp = [minus_top](F v) { return exp_non_positive(Ops::add(v, minus_top)); };
    F total = Ops::zero();
    for (int i = 0; i < packed; i += Ops::kLanes) {
        const F e = shifted_exp(Ops::load(scores + i));
        Ops::store(scores + i, e);
        total = Ops::add(total, e);
    }
    float sum = Ops::reduce_add(total);
    padded_tail(scores, packed, count, scores, shifted_exp);
    for (int i = packed; i < count; ++i) sum += scores[i];
    const float inverse = 1.0f / sum;
    for (int i = 0; i < packed; i += Ops::kLanes)
        Ops::store(scores + i, Ops::mul(Ops::load(scores + i), Ops::broadcast(inverse)));
    for (int i = packed; i < count; ++i) scores[i] *= inverse;
}

// How far ahead of a key/value cache stream to prefetch: a head's keys and values come from memory,
// and the hardware prefetcher restarts at every head.
constexpr long kCachePrefetchBytes = 8192;

template <typename Element>
constexpr long kPrefetchElements = kCachePrefetchBytes / long(sizeof(Element));
template <typename Element>
constexpr int kElementsPerLine = kCacheLine / int(sizeof(Element));

// A cache holds float32 or bfloat16 elements (bfloat16 as its bits), read in chunks of vectors:
// kLanes floats as one vector, or 2 kLanes bfloat16 as two, the even and the odd elements (a shift
// and a mask, as bfloat16 weights widen), so that a vector of bfloat16 costs no shuffle.
struct FloatChunk {
    static constexpr int kElements = Ops::kLanes;
    static constexpr int kVectors = 1;
    static void load(const float* p, F (&v)[kVectors]) { v[0] = Ops::load(p); }
    static void store(float* out, const F (&v)[kVectors]) { Ops::store(out, v[0]); }
    static float widen(float value) { return value; }
};

struct Bf16Chunk {
    static constexpr int kElements = 2 * Ops::kLanes;
    static constexpr int kVectors = 2;
    static void load(const uint16_t* p, F (&v)[kVectors]) { Ops::widen_bf16(p, v[0], v[1]); }
    // Interleaves the even and the odd elements back into order.
    static void store(float* out, const F (&v)[kVectors]) {
        float even[Ops::kLanes], odd[Ops::kLanes];
        Ops::store(even, v[0]);
        Ops::store(odd, v[1]);
        for (int l = 0; l < Ops::kLanes; ++l) {
            out[2 * l] = even[l];
            out[2 * l + 1] = odd[l];
        }
    }
    static float widen(uint16_t value) {
        const uint32_t bits = uint32_t(value) << 16;
        float out;
        __builtin_memcpy(&out, &bits, sizeof out);
        return out;
    }
};

template <typename Element>
struct ChunkSelect;
template <>
struct ChunkSelect<float> {
    using type = FloatChunk;
};
template <>
struct ChunkSelect<uint16_t> {
    using type = Bf16Chunk;
};
template <typename Element>
using ChunkOf = typename ChunkSelect<Element>::type;

// The query as bfloat16 chunks read a key: each chunk's even elements, then its odd ones.
// split (dims) <- query (dims), the tail past the last whole chunk left out.
void split_query(const float* query, int dims, float* split) {
    constexpr int chunk = Bf16Chunk::kElements;
    for (int i = 0; i + chunk <= dims; i += chunk)
        for (int l = 0; l < Ops::kLanes; ++l) {
            split[i + l] = query[i + 2 * l];
            split[i + Ops::kLanes + l] = query[i + 2 * l + 1];
        }
}

// scores[k] = scale * (query . keys(k, :)) for Keys keys (Keys, dims) side by side, to overlap
// their loads; every sum in one fixed order (chunks, their lanes, then the tail). `arranged` is the
// query as the chunks read it.
template <int Keys, typename Element>
void dots(const float* query, const float* arranged, const Element* keys, int dims, float scale, float* scores) {
    using Chunk = ChunkOf<Element>;
    const int packed = dims / Chunk::kElements * Chunk::kElements;
    F acc[Keys];
    for (int k = 0; k < Keys; ++k) acc[k] = Ops::zero();
    for (int i = 0; i < packed; i += Chunk::kElements) {
        F q[Chunk::kVectors];
        for (int v = 0; v < Chunk::kVectors; ++v) q[v] = Ops::load(arranged + i + v * Ops::kLanes);
        for (int k = 0; k < Keys; ++k) {
            if (i % kElementsPerLine<Element> == 0)
                _mm_prefetch(keys + k * dims + i + kPrefetchElements<Element>, _MM_HINT_T0);
            F key[Chunk::kVectors];
            Chunk::load(keys + k * dims + i, key);
            for (int v = 0; v < Chunk::kVectors; ++v) acc[k] = Ops::fmadd(q[v], key[v], acc[k]);
        }
    }
    for (int k = 0; k < Keys; ++k) {
        float total = Ops::reduce_add(acc[k]);
        for (int i = packed; i < dims; ++i) total += query[i] * Chunk::widen(keys[k * dims + i]);
        scores[k] = scale * total;
    }
}

// scores[t] = scale * (query . keys(t, :)) for keys (count, dims): four keys at a time, then one.
// A key's score is the same whichever group computes it.
template <typename Element>
void dots_of_keys(const float* query, const float* arranged, const Element* keys, int count, int dims, float scale,
                  float* scores) {
    int t = 0;
    for (; t + 4 <= count; t += 4) dots<4>(query, arranged, keys + long(t) * dims, dims, scale, scores + t);
    for (; t < count; ++t) dots<1>(query, arranged, keys + long(t) * dims, dims, scale, scores + t);
}

void scaled_dots(const float* query, const float* keys, int count, int dims, float scale, float* scores) {
    dots_of_keys(query, query, keys, count, dims, scale, scores);
}

// dims is at most kMaxCacheWidth (attention_kernels.cpp checks the bound against the config's).
void scaled_dots_bf16(const float* query, const uint16_t* keys, int count, int dims, float scale, float* scores) {
    float split[kMaxCacheWidth];
    split_query(query, dims, split);
    dots_of_keys(query, split, keys, count, dims, scale, scores);
}

// out (Chunks chunks) = sum_t a[t] rows(t, :Chunks chunks), in order of t.
template <int Chunks, typename Element>
void weighted_columns(const float* a, const Element* rows, int count, long stride, float* out) {
    using Chunk = ChunkOf<Element>;
    F acc[Chunks][Chunk::kVectors];
    for (int j = 0; j < Chunks; ++j)
        for (int v = 0; v < Chunk::kVectors; ++v) acc[j][v] = Ops::zero();
    for (int t = 0; t < count; ++t) {
        const F weight = Ops::broadcast(a[t]);
        const Element* row = rows + t * stride;
        for (int j = 0; j < Chunks; ++j) {
            if (j * Chunk::kElements % kElementsPerLine<Element> == 0)
                _mm_prefetch(row + j * Chunk::kElements + kPrefetchElements<Element>, _MM_HINT_T0);
            F values[Chunk::kVectors];
            Chunk::load(row + j * Chunk::kElements, values);
            for (int v = 0; v < Chunk::kVectors; ++v) acc[j][v] = Ops::fmadd(weight, values[v], acc[j][v]);
        }
    }
    for (int j = 0; j < Chunks; ++j) Chunk::store(out + j * Chunk::kElements, acc[j]);
}

// out (width) = sum_t a[t] rows(t, :) over rows (count, width): up to four chunks of columns per
// pass over the rows, then the remaining columns one by one.
template <typename Element>
void weighted_rows(const float* a, const Element* rows, int count, int width, float* out) {
    using Chunk = ChunkOf<Element>;
    int m = 0;
    for (; width - m >= 4 * Chunk::kElements; m += 4 * Chunk::kElements)
        weighted_columns<4>(a, rows + m, count, width, out + m);
    const int chunks = (width - m) / Chunk::kElements;
    if (chunks == 3) weighted_columns<3>(a, rows + m, count, width, out + m);
    if (chunks == 2) weighted_columns<2>(a, rows + m, count, width, out + m);
    if (chunks == 1) weighted_columns<1>(a, rows + m, count, width, out + m);
    for (m += chunks * Chunk::kElements; m < width; ++m) {
        float total = 0;
        for (int t = 0; t < count; ++t) total += a[t] * Chunk::widen(rows[long(t) * width + m]);
        out[m] = total;
    }
}

// The kernel for p.rows rows (1..Rows): a chain of compile-time row counts.
template <int Rows>
void float_rows(const PanelProduct& p, const float* panel) {
    if constexpr (Rows > 1)
        if (p.rows < Rows) return float_rows<Rows - 1>(p, panel);
    float_panel<Rows>(p, panel);
}

template <int Rows>
void bf16_rows(const PanelProduct& p, const uint16_t* panel) {
    if constexpr (Rows > 1)
        if (p.rows < Rows) return bf16_rows<Rows - 1>(p, panel);
    bf16_panel<Rows>(p, panel);
}

template <int Rows>
void q8_rows(const PanelProduct& p, const QuantisedRows& x, const uint8_t* panel) {
    if constexpr (Rows > 1)
        if (p.rows < Rows) return q8_rows<Rows - 1>(p, x, panel);
    q8_panel<Rows>(p, x, panel);
}

template <int MaxRows, int MaxRowsQ8>
constexpr LinearKernels make_kernels(const char* isa) {
    return {isa,
            kPanel,
            MaxRows,
            MaxRowsQ8,
            &float_rows<MaxRows>,
            &bf16_rows<MaxRows>,
            &q8_rows<MaxRowsQ8>,
            &linear_attention_head,
            &quantise_block,
            &elu_plus_one,
            &softmax,
            &scaled_dots,
            &weighted_rows<float>,
            &scaled_dots_bf16,
            &weighted_rows<uint16_t>};
}
