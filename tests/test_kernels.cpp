// Every fast kernel against its plain-loop reference, over seeded random shapes.
#include <QtTest>

#include "stepscope/linear.h"
#include "stepscope/normalization.h"
#include "stepscope/recurrent_attention.h"
#include "test_support.h"

using namespace stepscope;

namespace {

RowMatrix random_matrix(long rows, long cols, unsigned seed) {
    std::srand(seed);
    return RowMatrix::Random(rows, cols);
}

// Float sums in another order differ by rounding only.
constexpr double kAbsolute = 1e-5, kRelative = 1e-5;

}  // namespace

class KernelsTest : public QObject {
    Q_OBJECT

private slots:
    void linear_matches_scalar() {
        for (unsigned seed = 1; seed <= 5; ++seed) {
            const long batch = 1 + seed * 3, in = 7 * seed + 3, out = 5 * seed + 11;
            Linear linear(random_matrix(out, in, seed), random_matrix(out, 1, seed + 100));
            const RowMatrix x = random_matrix(batch, in, seed + 200);
            RowMatrix fast, scalar;
            linear.forward(x, fast);
            linear.forward_scalar(x, scalar);
            STEPSCOPE_COMPARE_CLOSE("linear", fast.data(), scalar.data(), scalar.size(), kAbsolute, kRelative);
        }
    }

    void bf16_linear_stays_close_to_float() {
        Linear linear(random_matrix(64, 96, 1), random_matrix(64, 1, 2));
        const RowMatrix x = random_matrix(10, 96, 3);
        RowMatrix exact, reduced;
        linear.forward(x, exact);
        linear.use_bf16(true);
        linear.forward(x, reduced);
        QVERIFY(linear.uses_bf16());
        // bf16 keeps 8 mantissa bits: relative error 2^-9 per weight.
        STEPSCOPE_COMPARE_CLOSE("bf16 linear", reduced.data(), exact.data(), exact.size(), 0.05, 0.0);
        QVERIFY((reduced - exact).cwiseAbs().maxCoeff() > 0);
    }

    void layer_norm_matches_scalar() {
        LayerNorm norm{random_matrix(33, 1, 4), random_matrix(33, 1, 5)};
        RowMatrix fast = random_matrix(6, 33, 6) * 3.0f, scalar = fast;
        norm.apply(fast);
        norm.apply_scalar(scalar);
        STEPSCOPE_COMPARE_CLOSE("layer norm", fast.data(), scalar.data(), scalar.size(), kAbsolute, kRelative);
    }

    void activations_match_scalar() {
        for (Activation activation : {Activation::Relu, Activation::Gelu}) {
            RowMatrix fast = random_matrix(4, 50, 7) * 4.0f, scalar = fast;
            apply_activation(activation, fast);
            apply_activation_scalar(activation, scalar);
            STEPSCOPE_COMPARE_CLOSE("activation", fast.data(), scalar.data(), scalar.size(), kAbsolute, kRelative);
        }
    }

    void linear_attention_matches_scalar() {
        for (unsigned seed = 1; seed <= 4; ++seed) {
            const long rows = 4 * seed * 3, features = 8 * seed, values = 5 + seed;
            LinearAttentionState fast{random_matrix(rows * features, values, seed).cwiseAbs(),
                                      random_matrix(rows, features, seed + 1).cwiseAbs()};
            LinearAttentionState scalar = fast;
            const RowMatrix phi_k = random_matrix(rows, features, seed + 2).cwiseAbs();
            const RowMatrix v = random_matrix(rows, values, seed + 3);
            const RowMatrix phi_q = random_matrix(rows, features, seed + 4).cwiseAbs();
            linear_attention_update(phi_k, v, fast);
            linear_attention_update_scalar(phi_k, v, scalar);
            STEPSCOPE_COMPARE_CLOSE("S", fast.sums.data(), scalar.sums.data(), scalar.sums.size(), kAbsolute, kRelative);
            STEPSCOPE_COMPARE_CLOSE("Z", fast.normalizer.data(), scalar.normalizer.data(), scalar.normalizer.size(),
                                    kAbsolute, kRelative);
            RowMatrix out_fast(rows, values), out_scalar(rows, values);
            linear_attention_readout(phi_q, fast, 1e-6f, out_fast);
            linear_attention_readout_scalar(phi_q, scalar, 1e-6f, out_scalar);
            STEPSCOPE_COMPARE_CLOSE("readout", out_fast.data(), out_scalar.data(), out_scalar.size(), kAbsolute,
                                    kRelative);
        }
    }

    void full_attention_matches_scalar_and_weights_sum_to_one() {
        const int batch = 3, heads = 4, key_dims = 6, value_dims = 5;
        KeyValueCache cache;
        // 70 steps cross several geometric growths of the cache.
        for (int t = 0; t < 70; ++t)
            cache.append(random_matrix(batch * heads, key_dims, t), random_matrix(batch * heads, value_dims, t + 500));
        QCOMPARE(cache.length, 70);
        QVERIFY(cache.capacity() >= 70);
        const RowMatrix queries = random_matrix(batch * heads, key_dims, 999);
        for (const std::vector<int>& lengths : {std::vector<int>{}, std::vector<int>{70, 12, 1}}) {
            RowMatrix out_fast(batch * heads, value_dims), out_scalar(batch * heads, value_dims), w_fast, w_scalar;
            full_attention(queries, cache, 0.4f, lengths, heads, out_fast, w_fast);
            full_attention_scalar(queries, cache, 0.4f, lengths, heads, out_scalar, w_scalar);
            STEPSCOPE_COMPARE_CLOSE("full out", out_fast.data(), out_scalar.data(), out_scalar.size(), kAbsolute,
                                    kRelative);
            const RowMatrix w = w_fast.leftCols(cache.length);
            STEPSCOPE_COMPARE_CLOSE("full weights", w.data(), w_scalar.data(), w_scalar.size(), kAbsolute, kRelative);
            for (int r = 0; r < batch * heads; ++r) {
                QVERIFY(std::abs(w.row(r).sum() - 1.0f) < 1e-5f);
                if (!lengths.empty()) QCOMPARE(w.row(r).tail(cache.length - lengths[r / heads]).sum(), 0.0f);
            }
        }
    }
};

QTEST_APPLESS_MAIN(KernelsTest)
#include "test_kernels.moc"
