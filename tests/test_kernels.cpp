// Every fast kernel against its plain-loop reference, over seeded random shapes.
#include <QtTest>

#include <cmath>
#include <cstring>

#include <tbb/global_control.h>

#include <algorithm>
#include <string>
#include <utility>

#include "kernels/attention_kernels.h"
#include "kernels/bfloat16.h"
#include "kernels/delta_rule_kernels.h"
#include "layers/layer_norm_activation.h"
#include "layers/linear.h"
#include "stepscope/error.h"
#include "stepscope/model.h"
#include "test_support.h"

using namespace stepscope;

namespace {

RowMatrix random_matrix(long rows, long cols, unsigned seed) {
    std::srand(seed);
    return RowMatrix::Random(rows, cols);
}

// Float sums in another order differ by rounding only.
constexpr double kAbsolute = 1e-5, kRelative = 1e-5;

const char* format_name(WeightFormat format) {
    return format == WeightFormat::F32 ? "f32" : format == WeightFormat::Bf16 ? "bf16" : "q8";
}

// A linear-attention step's inputs: a state (S, Z) already summed over earlier steps, and
// non-negative features as phi gives them. Rows are batch x heads.
struct LinearAttentionCase {
    LinearAttentionState state;
    RowMatrix phi_keys, values, phi_queries;
};

LinearAttentionCase linear_attention_case(long rows, long features, long values, unsigned seed) {
    return {{random_matrix(rows * features, values, seed).cwiseAbs(),
             random_matrix(rows, features, seed + 1).cwiseAbs()},
            random_matrix(rows, features, seed + 2).cwiseAbs(),
            random_matrix(rows, values, seed + 3),
            random_matrix(rows, features, seed + 4).cwiseAbs()};
}

// Steps the golden case of the current data row in float32 and in `precision` side by side;
// every output within `bound` of float32's. Prints the largest deviation.
void compare_with_float(const std::string& precision, double bound) {
    QFETCH(QString, name);
    const std::string case_name = name.toStdString();
    const auto exact = load_model(testing::golden_path(case_name, "model.safetensors"));
    ModelConfig config = exact->config();
    config.precision = precision;
    const auto reduced = Model::from_tensors(config, exact->tensors());
    const SafetensorsFile io = read_safetensors(testing::golden_path(case_name, "io.safetensors"));
    const Tensor& x = io.tensors.at("x");
    const long steps = x.shape[0], batch = x.shape[1], width = x.shape[2];
    const bool decoder = config.kind == ModelKind::Decoder;
    const Memory memory = decoder ? decoder_memory(io.tensors, "io.safetensors") : Memory{};
    State exact_state = exact->new_state(), reduced_state = reduced->new_state();
    RowMatrix y_exact, y_reduced;
    double worst = 0;
    for (long t = 0; t < steps; ++t) {
        const Eigen::Map<const RowMatrix> x_t(x.values.data() + t * batch * width, batch, width);
        if (decoder) {
            exact->step(x_t, memory, exact_state, y_exact);
            reduced->step(x_t, memory, reduced_state, y_reduced);
        } else {
            exact->step(x_t, exact_state, y_exact);
            reduced->step(x_t, reduced_state, y_reduced);
        }
        STEPSCOPE_COMPARE_CLOSE(case_name + " " + precision + " y at step " + std::to_string(t), y_reduced, y_exact,
                                bound, 0.0);
        worst = std::max(worst, double((y_reduced - y_exact).cwiseAbs().maxCoeff()));
    }
    qInfo("%s: max |y_%s - y_f32| = %.3g over %ld steps", case_name.c_str(), precision.c_str(), worst, steps);
}

}  // namespace

class KernelsTest : public QObject {
    Q_OBJECT

private slots:
    // STEPSCOPE_ISA runs these tests on the kernels it names (tests/CMakeLists.txt), skipped where
    // the CPU lacks their instructions.
    void initTestCase() {
        const QString requested = qEnvironmentVariable("STEPSCOPE_ISA");
        if (requested.isEmpty()) return;
        const QString error = testing::error_of([] { linear_kernel_isa(); });
        if (error.contains("lacks")) QSKIP(qPrintable(error));
        QCOMPARE(QString(linear_kernel_isa()), requested);
    }

    // Batches of one, of the seed example's ten and of several register
    // chunks; widths around the kernel's panel of 32 outputs and its packets.
    void linear_matches_scalar_over_shapes() {
        unsigned seed = 1;
        for (const WeightFormat format : {WeightFormat::F32, WeightFormat::Bf16, WeightFormat::Q8})
            for (const long batch : {1L, 2L, 7L, 10L, 13L, 25L, 64L})
                for (const long in : {1L, 3L, 16L, 33L, 70L, 384L})
                    for (const long out : {1L, 5L, 31L, 32L, 33L, 100L}) {
                        seed += 3;
                        Linear linear(random_matrix(out, in, seed), random_matrix(out, 1, seed + 1));
                        linear.use_format(format);
                        const RowMatrix x = random_matrix(batch, in, seed + 2);
                        RowMatrix fast, scalar;
                        linear.forward(x, fast);
                        linear.forward_scalar(x, scalar);
                        QCOMPARE(fast.rows(), batch);
                        QCOMPARE(fast.cols(), out);
                        const std::string what = std::string(format_name(format)) + " linear " + std::to_string(batch) +
                                                 "x" + std::to_string(in) + " -> " + std::to_string(out);
                        STEPSCOPE_COMPARE_CLOSE(what, fast, scalar, kAbsolute, kRelative);
                    }
    }

    // The seed example's widest products, large enough to run on oneTBB workers.
    void linear_matches_scalar_at_seed_example_sizes() {
        for (const auto& [in, out] : {std::pair{384L, 1152L}, std::pair{1536L, 384L}}) {
            Linear linear(random_matrix(out, in, 31), random_matrix(out, 1, 32));
            const RowMatrix x = random_matrix(10, in, 33);
            RowMatrix fast, scalar;
            linear.forward(x, fast);
            linear.forward_scalar(x, scalar);
            STEPSCOPE_COMPARE_CLOSE("seed-size linear", fast, scalar, kAbsolute, kRelative);
        }
    }

    // A column block of a wider matrix: rows are not contiguous with each other.
    void linear_reads_strided_input() {
        Linear linear(random_matrix(40, 24, 41), random_matrix(40, 1, 42));
        const RowMatrix wide = random_matrix(9, 50, 43);
        const ConstMatrixRef x = wide.middleCols(7, 24);
        QCOMPARE(long(x.outerStride()), 50L);
        RowMatrix fast, scalar;
        linear.forward(x, fast);
        linear.forward_scalar(x, scalar);
        STEPSCOPE_COMPARE_CLOSE("strided linear", fast, scalar, kAbsolute, kRelative);
    }

    // A snapshot resumes bit for bit on any machine only if the split across
    // workers never changes the order of a sum.
    void linear_is_bit_identical_for_any_thread_count() {
        Linear linear(random_matrix(1152, 384, 51), random_matrix(1152, 1, 52));
        const RowMatrix x = random_matrix(10, 384, 53);
        RowMatrix serial, parallel;
        {
            const tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
            linear.forward(x, serial);
        }
        {
            const tbb::global_control many(tbb::global_control::max_allowed_parallelism, 4);
            linear.forward(x, parallel);
        }
        QVERIFY(serial == parallel);
    }

    void linear_refuses_a_wrong_input_width() {
        Linear linear(random_matrix(4, 6, 61), random_matrix(4, 1, 62));
        RowMatrix y;
        QVERIFY_THROWS_EXCEPTION(Error, linear.forward(random_matrix(2, 5, 63), y));
    }

    // A NaN weight is a NaN output in bf16 as in f32, whatever its payload; rounding must not carry
    // it into the exponent (+Inf) or the sign (-0).
    void bf16_keeps_nan_weights_nan() {
        for (const uint32_t nan_bits : {0x7fffffffu, 0x7f800001u, 0xffc00000u}) {
            RowMatrix weights = random_matrix(40, 12, 4);
            float nan;
            std::memcpy(&nan, &nan_bits, sizeof nan);
            weights(3, 5) = nan;
            Linear linear(weights, random_matrix(40, 1, 5));
            linear.use_format(WeightFormat::Bf16);
            RowMatrix y;
            linear.forward(random_matrix(2, 12, 6), y);
            QVERIFY2(std::isnan(y(0, 3)) && std::isnan(y(1, 3)), qPrintable(QString::number(nan_bits, 16)));
            QVERIFY(std::isfinite(y(0, 2)) && std::isfinite(y(1, 4)));
        }
    }

    void bf16_linear_stays_close_to_float() {
        Linear linear(random_matrix(64, 96, 1), random_matrix(64, 1, 2));
        const RowMatrix x = random_matrix(10, 96, 3);
        RowMatrix exact, reduced;
        linear.forward(x, exact);
        linear.use_format(WeightFormat::Bf16);
        linear.forward(x, reduced);
        QCOMPARE(linear.format(), WeightFormat::Bf16);
        // bf16 keeps 8 mantissa bits: relative error 2^-9 per weight.
        STEPSCOPE_COMPARE_CLOSE("bf16 linear", reduced, exact, 0.05, 0.0);
        QVERIFY((reduced - exact).cwiseAbs().maxCoeff() > 0);
        linear.use_format(WeightFormat::F32);
        linear.forward(x, reduced);
        QVERIFY(reduced == exact);
    }

    void q8_keeps_nan_weights_nan() {
        RowMatrix weights = random_matrix(40, 70, 4);
        weights(3, 40) = NAN;
        Linear linear(weights, random_matrix(40, 1, 5));
        linear.use_format(WeightFormat::Q8);
        RowMatrix y;
        linear.forward(random_matrix(2, 70, 6), y);
        QVERIFY(std::isnan(y(0, 3)) && std::isnan(y(1, 3)));
        QVERIFY(std::isfinite(y(0, 2)) && std::isfinite(y(1, 4)));
        // An input's NaN or infinity makes its row NaN, whichever block of 32 holds it.
        for (const long column : {5L, 69L}) {
            RowMatrix x = random_matrix(2, 70, 7);
            x(1, column) = column == 5 ? NAN : INFINITY;
            linear.forward(x, y);
            QVERIFY(std::isnan(y(1, 0)) && std::isnan(y(1, 39)));
            QVERIFY(std::isfinite(y(0, 0)));
        }
    }

    // q8 rounds weights and inputs to 1/254 of their block's largest: about 1% of a product.
    void q8_linear_stays_close_to_float() {
        Linear linear(random_matrix(64, 96, 1), random_matrix(64, 1, 2));
        const RowMatrix x = random_matrix(10, 96, 3);
        RowMatrix exact, reduced;
        linear.forward(x, exact);
        linear.use_format(WeightFormat::Q8);
        linear.forward(x, reduced);
        QCOMPARE(linear.packed_bytes(), size_t(64 * 96 + 64 * 3 * 4));
        STEPSCOPE_COMPARE_CLOSE("q8 linear", reduced, exact, 0.1, 0.0);
        QVERIFY((reduced - exact).cwiseAbs().maxCoeff() > 0);
    }

    // The bounds for reduced precision: on every golden case the outputs stay within
    // 2e-2 (bf16) and 5e-2 (q8) of float32 at every step.
    void bf16_model_stays_within_2e_2_of_float_data() { testing::add_golden_rows(); }
    void bf16_model_stays_within_2e_2_of_float() { compare_with_float("bf16", 2e-2); }

    void q8_model_stays_within_5e_2_of_float_data() { testing::add_golden_rows(); }
    void q8_model_stays_within_5e_2_of_float() { compare_with_float("q8", 5e-2); }

    void layer_norm_matches_scalar() {
        LayerNorm norm{random_matrix(33, 1, 4), random_matrix(33, 1, 5)};
        RowMatrix fast = random_matrix(6, 33, 6) * 3.0f, scalar = fast;
        norm.apply(fast);
        norm.apply_scalar(scalar);
        STEPSCOPE_COMPARE_CLOSE("layer norm", fast, scalar, kAbsolute, kRelative);
    }

    void activations_match_scalar() {
        for (Activation activation : {Activation::Relu, Activation::Gelu}) {
            RowMatrix fast = random_matrix(4, 50, 7) * 4.0f, scalar = fast;
            apply_activation(activation, fast);
            reference::apply_activation(activation, scalar);
            STEPSCOPE_COMPARE_CLOSE("activation", fast, scalar, kAbsolute, kRelative);
        }
    }

    void linear_attention_matches_scalar() {
        for (unsigned seed = 1; seed <= 4; ++seed) {
            const long rows = 4 * seed * 3, features = 8 * seed, values = 5 + seed;
            const auto [state, phi_k, v, phi_q] = linear_attention_case(rows, features, values, seed);
            LinearAttentionState fast = state, scalar = state;
            linear_attention_update(phi_k, v, fast);
            reference::linear_attention_update(phi_k, v, scalar);
            STEPSCOPE_COMPARE_CLOSE("S", fast.sums, scalar.sums, kAbsolute, kRelative);
            STEPSCOPE_COMPARE_CLOSE("Z", fast.normalizer, scalar.normalizer, kAbsolute, kRelative);
            RowMatrix out_fast(rows, values), out_scalar(rows, values);
            linear_attention_readout(phi_q, fast, 1e-6f, out_fast);
            reference::linear_attention_readout(phi_q, scalar, 1e-6f, out_scalar);
            STEPSCOPE_COMPARE_CLOSE("readout", out_fast, out_scalar, kAbsolute, kRelative);
        }
    }

    void linear_attention_step_matches_scalar() {
        unsigned seed = 100;
        for (const long rows : {1L, 12L, 120L})
            for (const long features : {1L, 7L, 32L})
                for (const long values : {1L, 5L, 32L, 33L}) {
                    seed += 5;
                    const auto [state, phi_k, v, phi_q] = linear_attention_case(rows, features, values, seed);
                    LinearAttentionState fast = state, scalar = state;
                    RowMatrix out_fast(rows, values), out_scalar(rows, values);
                    linear_attention_step(phi_k, v, phi_q, 1e-6f, fast, out_fast);
                    reference::linear_attention_step(phi_k, v, phi_q, 1e-6f, scalar, out_scalar);
                    STEPSCOPE_COMPARE_CLOSE("step S", fast.sums, scalar.sums, kAbsolute, kRelative);
                    STEPSCOPE_COMPARE_CLOSE("step Z", fast.normalizer, scalar.normalizer, kAbsolute, kRelative);
                    STEPSCOPE_COMPARE_CLOSE("step out", out_fast, out_scalar, kAbsolute, kRelative);
                    // An observed step: the same update, and the norms of the updated rows.
                    LinearAttentionState observed = state;
                    StateNorms norms;
                    linear_attention_step(phi_k, v, phi_q, 1e-6f, observed, out_fast, &norms);
                    QCOMPARE(observed.sums, fast.sums);
                    QCOMPARE(long(norms.components.at(0).size()), rows);
                    for (long r = 0; r < rows; ++r) {
                        const double s = scalar.sums.middleRows(r * features, features).cast<double>().norm();
                        const double z = scalar.normalizer.row(r).cast<double>().norm();
                        QVERIFY(std::abs(norms.components[0][size_t(r)] - s) <= kAbsolute + kRelative * s);
                        QVERIFY(std::abs(norms.components[1][size_t(r)] - z) <= kAbsolute + kRelative * z);
                    }
                }
    }

    // A block of T steps, each head's steps in turn: the scalar reference stepped T times, and the fast step
    // T times bit for bit (the arithmetic of each step is the same).
    void linear_attention_block_matches_steps() {
        unsigned seed = 200;
        for (const long rows : {1L, 12L, 120L})
            for (const int steps : {1, 5, 16}) {
                const long features = 32, values = 33;
                seed += 3;
                const auto [state, first_k, first_v, first_q] = linear_attention_case(rows, features, values, seed);
                const RowMatrix phi_k = random_matrix(steps * rows, features, seed + 1).cwiseAbs();
                const RowMatrix phi_q = random_matrix(steps * rows, features, seed + 2).cwiseAbs();
                const RowMatrix v = random_matrix(steps * rows, values, seed + 3);
                LinearAttentionState blocked = state, stepped = state, scalar = state;
                RowMatrix out_block(steps * rows, values), out_step(rows, values), out_scalar(rows, values);
                linear_attention_block(phi_k, v, phi_q, 1e-6f, steps, blocked, out_block);
                for (int t = 0; t < steps; ++t) {
                    const auto at = [&](const RowMatrix& m) { return m.middleRows(long(t) * rows, rows); };
                    linear_attention_step(at(phi_k), at(v), at(phi_q), 1e-6f, stepped, out_step);
                    reference::linear_attention_step(at(phi_k), at(v), at(phi_q), 1e-6f, scalar, out_scalar);
                    QCOMPARE(RowMatrix(at(out_block)), out_step);
                    STEPSCOPE_COMPARE_CLOSE("block out", RowMatrix(at(out_block)), out_scalar, kAbsolute, kRelative);
                }
                QCOMPARE(blocked.sums, stepped.sums);
                QCOMPARE(blocked.normalizer, stepped.normalizer);
                STEPSCOPE_COMPARE_CLOSE("block S", blocked.sums, scalar.sums, kAbsolute, kRelative);
            }
    }

    // The delta rule with and without its forget gate, over shapes below, at and past a vector: S, the
    // prediction errors, the output and the observed norms against the plain loops.
    void delta_rule_step_matches_scalar() {
        unsigned seed = 300;
        for (const bool gated : {false, true})
            for (const long rows : {1L, 12L, 120L})
                for (const long features : {1L, 7L, 32L})
                    for (const long values : {1L, 5L, 32L, 33L}) {
                        seed += 7;
                        RowMatrix keys = random_matrix(rows, features, seed),
                                  queries = random_matrix(rows, features, seed + 1);
                        normalize_rows(keys);
                        normalize_rows(queries);
                        const RowMatrix v = random_matrix(rows, values, seed + 2);
                        const RowMatrix gates = (random_matrix(2, rows, seed + 3).array() * 0.5f + 0.5f).matrix();
                        const RowMatrix state = random_matrix(rows * features, values, seed + 4);
                        const float* alpha = gated ? gates.row(1).data() : nullptr;
                        RowMatrix fast = state, scalar = state, observed = state;
                        RowMatrix errors_fast(rows, values), errors_scalar(rows, values);
                        RowMatrix out_fast(rows, values), out_scalar(rows, values);
                        delta_rule_step(keys, v, queries, gates.row(0).data(), alpha, 0.25f, fast, errors_fast,
                                        out_fast);
                        reference::delta_rule_step(keys, v, queries, gates.row(0).data(), alpha, 0.25f, scalar,
                                                   errors_scalar, out_scalar);
                        STEPSCOPE_COMPARE_CLOSE("delta S", fast, scalar, kAbsolute, kRelative);
                        STEPSCOPE_COMPARE_CLOSE("delta errors", errors_fast, errors_scalar, kAbsolute, kRelative);
                        STEPSCOPE_COMPARE_CLOSE("delta out", out_fast, out_scalar, kAbsolute, kRelative);
                        StateNorms norms;
                        delta_rule_step(keys, v, queries, gates.row(0).data(), alpha, 0.25f, observed, errors_fast,
                                        out_fast, &norms);
                        QCOMPARE(observed, fast);
                        QCOMPARE(long(norms.components.at(0).size()), rows);
                        for (long r = 0; r < rows; ++r) {
                            const double s = scalar.middleRows(r * features, features).cast<double>().norm();
                            QVERIFY(std::abs(norms.components[0][size_t(r)] - s) <= kAbsolute + kRelative * s);
                        }
                    }
    }

    // A key written twice with the same value is predicted the second time: the delta rule writes nothing.
    void delta_rule_writes_only_what_it_did_not_predict() {
        RowMatrix key = RowMatrix::Zero(1, 4), value(1, 3), state = RowMatrix::Zero(4, 3), errors(1, 3), out(1, 3);
        key(0, 2) = 1;
        value << 1, -2, 3;
        const float beta = 1;
        delta_rule_step(key, value, key, &beta, nullptr, 1.0f, state, errors, out);
        STEPSCOPE_COMPARE_CLOSE("read back", out, value, 1e-6, 0.0);
        const RowMatrix before = state;
        delta_rule_step(key, value, key, &beta, nullptr, 1.0f, state, errors, out);
        QCOMPARE(errors.cwiseAbs().maxCoeff(), 0.0f);
        QCOMPARE(state, before);
    }

    void linear_attention_step_with_a_forget_gate_matches_scalar() {
        unsigned seed = 500;
        for (const long rows : {1L, 12L, 120L})
            for (const long features : {1L, 7L, 32L})
                for (const long values : {1L, 5L, 32L, 33L}) {
                    seed += 5;
                    const auto [state, phi_k, v, phi_q] = linear_attention_case(rows, features, values, seed);
                    const RowMatrix alpha = (random_matrix(1, rows, seed + 9).array() * 0.5f + 0.5f).matrix();
                    LinearAttentionState fast = state, scalar = state, observed = state;
                    RowMatrix out_fast(rows, values), out_scalar(rows, values);
                    linear_attention_step(phi_k, v, phi_q, 1e-6f, fast, out_fast, nullptr, alpha.data());
                    reference::linear_attention_step(phi_k, v, phi_q, 1e-6f, scalar, out_scalar, alpha.data());
                    STEPSCOPE_COMPARE_CLOSE("gated S", fast.sums, scalar.sums, kAbsolute, kRelative);
                    STEPSCOPE_COMPARE_CLOSE("gated Z", fast.normalizer, scalar.normalizer, kAbsolute, kRelative);
                    STEPSCOPE_COMPARE_CLOSE("gated out", out_fast, out_scalar, kAbsolute, kRelative);
                    StateNorms norms;
                    linear_attention_step(phi_k, v, phi_q, 1e-6f, observed, out_fast, &norms, alpha.data());
                    QCOMPARE(observed.sums, fast.sums);
                    QCOMPARE(long(norms.components.at(1).size()), rows);
                }
    }

    // Widths below a vector, of whole vectors, and vectors and a tail; both cache precisions.
    void full_attention_matches_scalar_and_weights_sum_to_one_data() {
        QTest::addColumn<int>("key_dims");
        QTest::addColumn<int>("value_dims");
        QTest::addColumn<QString>("precision");
        for (const std::string& precision : cache_precision_names())
            for (const auto& [key_dims, value_dims] : {std::pair{6, 5}, std::pair{32, 32}, std::pair{40, 37}}) {
                const QString name = QString::fromStdString(precision);
                QTest::addRow("%s %dx%d", qPrintable(name), key_dims, value_dims) << key_dims << value_dims << name;
            }
    }

    void full_attention_matches_scalar_and_weights_sum_to_one() {
        QFETCH(int, key_dims);
        QFETCH(int, value_dims);
        QFETCH(QString, precision);
        const int batch = 3, heads = 4;
        const CachePrecision cache_precision = cache_precision_from_name(precision.toStdString());
        KeyValueCache cache;
        // 70 steps cross several geometric growths of the cache.
        for (int t = 0; t < 70; ++t) {
            const RowMatrix keys = random_matrix(batch * heads, key_dims, t);
            cache.append(keys, random_matrix(batch * heads, value_dims, t + 500), cache_precision);
            // A bf16 cache holds each key rounded to bfloat16, and the steps before stay through the growths.
            const RowMatrix stored = cache_precision == CachePrecision::Bf16
                                         ? RowMatrix(keys.unaryExpr([](float v) { return round_to_bf16(v); }))
                                         : keys;
            QCOMPARE(RowMatrix(cache.head_keys(5).row(t)), RowMatrix(stored.row(5)));
        }
        QCOMPARE(cache.length, 70);
        QCOMPARE(cache.precision, cache_precision);
        QVERIFY(cache.capacity() >= 70);
        const RowMatrix queries = random_matrix(batch * heads, key_dims, 999);
        for (const std::vector<int>& lengths : {std::vector<int>{}, std::vector<int>{70, 12, 1}}) {
            RowMatrix out_fast(batch * heads, value_dims), out_scalar(batch * heads, value_dims), w_fast, w_scalar;
            full_attention(queries, cache, 0.4f, lengths, heads, out_fast, w_fast);
            reference::full_attention(queries, cache, 0.4f, lengths, heads, out_scalar, w_scalar);
            STEPSCOPE_COMPARE_CLOSE("full out", out_fast, out_scalar, kAbsolute, kRelative);
            const RowMatrix w = w_fast.leftCols(cache.length);
            STEPSCOPE_COMPARE_CLOSE("full weights", w, w_scalar, kAbsolute, kRelative);
            for (int r = 0; r < batch * heads; ++r) {
                QVERIFY(std::abs(w.row(r).sum() - 1.0f) < 1e-5f);
                if (!lengths.empty()) QCOMPARE(w.row(r).tail(cache.length - lengths[r / heads]).sum(), 0.0f);
            }
        }
    }

    // Heads that start later (a cleared cache) against the scalar reference and a brute-force softmax
    // over the stored keys and values from each start; a head with nothing left outputs 0.
    void full_attention_honours_head_starts() {
        const int batch = 3, heads = 4, key_dims = 6, value_dims = 5, rows = batch * heads;
        const float temperature = 0.4f;
        KeyValueCache cache;
        for (int t = 0; t < 40; ++t)
            cache.append(random_matrix(rows, key_dims, t), random_matrix(rows, value_dims, t + 500),
                         CachePrecision::F32);
        cache.starts = {0, 1, 17, 39, 40, 5, 0, 33, 12, 40, 2, 39};
        const RowMatrix queries = random_matrix(rows, key_dims, 999);
        for (const std::vector<int>& lengths : {std::vector<int>{}, std::vector<int>{40, 20, 3}}) {
            RowMatrix out_fast(rows, value_dims), out_scalar(rows, value_dims), w_fast, w_scalar;
            full_attention(queries, cache, temperature, lengths, heads, out_fast, w_fast);
            reference::full_attention(queries, cache, temperature, lengths, heads, out_scalar, w_scalar);
            STEPSCOPE_COMPARE_CLOSE("started out", out_fast, out_scalar, kAbsolute, kRelative);
            const RowMatrix w = w_fast.leftCols(cache.length);
            STEPSCOPE_COMPARE_CLOSE("started weights", w, w_scalar, kAbsolute, kRelative);
            for (int r = 0; r < rows; ++r) {
                const int first = cache.starts[size_t(r)];
                const int valid = lengths.empty() ? cache.length : lengths[size_t(r / heads)];
                const int count = std::max(valid - first, 0);
                RowVector expected_weights = RowVector::Zero(cache.length);
                RowVector expected_out = RowVector::Zero(value_dims);
                if (count > 0) {
                    const RowMatrix keys = cache.head_keys(r).middleRows(first, count);
                    const RowMatrix values = cache.head_values(r).middleRows(first, count);
                    Eigen::VectorXd scores = (temperature * (keys * queries.row(r).transpose())).cast<double>();
                    scores = (scores.array() - scores.maxCoeff()).exp();
                    scores /= scores.sum();
                    expected_weights.segment(first, count) = scores.cast<float>().transpose();
                    expected_out = (values.transpose().cast<double>() * scores).cast<float>().transpose();
                }
                STEPSCOPE_COMPARE_CLOSE("brute-force weights", RowMatrix(w.row(r)), RowMatrix(expected_weights),
                                        kAbsolute, kRelative);
                STEPSCOPE_COMPARE_CLOSE("brute-force out", RowMatrix(out_fast.row(r)), RowMatrix(expected_out),
                                        kAbsolute, kRelative);
                QCOMPARE(w.row(r).head(std::min(first, cache.length)).sum(), 0.0f);
                QVERIFY(std::abs(w.row(r).sum() - (count > 0 ? 1.0f : 0.0f)) < 1e-5f);
            }
        }
    }
};

QTEST_APPLESS_MAIN(KernelsTest)
#include "test_kernels.moc"
