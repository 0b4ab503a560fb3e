// stepscope replay --observe / --ablate on the golden cases: against the reference's views and a brute-force
// recomputation.
//
// The recomputation shares nothing with the engine's step but its scalar
// feature maps: projections, layer norms, the attention weights (a plain loop
// over phi of every stored key, or a softmax), the outputs those weights give
// and the singular values (Jacobi SVD of each stored S) are computed here in double.
#include <QtTest>

#include <QTemporaryDir>

#include <Eigen/SVD>
#include <cmath>
#include <map>
#include <vector>

#include "cli_test_support.h"
#include "core/parameters.h"
#include "stepscope/attention_kind.h"
#include "stepscope/config.h"
#include "stepscope/decoder_memory.h"
#include "stepscope/feature_map.h"
#include "stepscope/observation.h"
#include "test_support.h"

using namespace stepscope;
using testing::CliResult;
using testing::run_stepscope;

namespace {

using Mat = Eigen::MatrixXd;

// The reference's view of what a golden case does, recomputed in double.
class Recomputation {
public:
    Recomputation(const Model& model, const SafetensorsFile& io) : tensors_(model.tensors()), config_(model.config()) {
        const Tensor& x = io.tensors.at("x");
        steps_ = x.shape[0];
        batch_ = x.shape[1];
        input_ = Eigen::Map<const RowMatrix>(x.values.data(), steps_ * batch_, x.shape[2]).cast<double>();
        if (config_.kind == ModelKind::Decoder) memory_ = decoder_memory(io.tensors, "io.safetensors");
        // The engine's layer outputs and states, step by step, as plain values to recompute from.
        struct Capture : StepObserver {
            std::vector<RowMatrix> outputs;
            void layer_output(int, const ConstMatrixRef& y) override { outputs.push_back(y); }
        } capture;
        State state = model.new_state();
        RowMatrix y;
        for (long t = 0; t < steps_; ++t) {
            const Eigen::Map<const RowMatrix> x_t(x.values.data() + t * batch_ * x.shape[2], batch_, x.shape[2]);
            if (memory_.batch) model.step(x_t, memory_, state, y, &capture);
            else model.step(x_t, state, y, &capture);
            states_.push_back(state);
        }
        outputs_.assign(config_.n_layers, Mat(steps_ * batch_, config_.d_model()));
        for (long t = 0; t < steps_; ++t)
            for (int l = 0; l < config_.n_layers; ++l)
                outputs_[l].middleRows(t * batch_, batch_) =
                    capture.outputs[size_t(t * config_.n_layers + l)].cast<double>();
    }

    long steps() const { return steps_; }
    long batch() const { return batch_; }
    const Mat& output(int layer) const { return outputs_[size_t(layer)]; }
    // Rows (t, n): the input of `layer` at every step.
    Mat input(int layer) const { return layer == 0 ? input_ : outputs_[size_t(layer - 1)]; }
    const State& state_after(long t) const { return states_[size_t(t)]; }

    std::string self_prefix(int layer) const {
        return "layers." + std::to_string(layer) + (memory_.batch ? ".self_attention" : ".attention");
    }
    std::string cross_prefix(int layer) const { return "layers." + std::to_string(layer) + ".cross_attention"; }

    Mat linear(const std::string& prefix, const Mat& x) const {
        const Mat weight = matrix_of(tensors_.at(prefix + ".weight")).cast<double>();
        const Eigen::RowVectorXd bias = vector_of(tensors_.at(prefix + ".bias")).cast<double>().transpose();
        return (x * weight.transpose()).rowwise() + bias;
    }

    Mat layer_norm(const std::string& prefix, const Mat& x) const {
        const Eigen::RowVectorXd weight = vector_of(tensors_.at(prefix + ".weight")).cast<double>().transpose();
        const Eigen::RowVectorXd bias = vector_of(tensors_.at(prefix + ".bias")).cast<double>().transpose();
        Mat out(x.rows(), x.cols());
        for (long r = 0; r < x.rows(); ++r) {
            const double mean = x.row(r).mean();
            const double variance = (x.row(r).array() - mean).square().mean();
            out.row(r) = ((x.row(r).array() - mean) / std::sqrt(variance + 1e-5)).matrix().cwiseProduct(weight) + bias;
        }
        return out;
    }

    // x = norm(x + linear2(act(linear1(x)))).
    Mat feed_forward(int layer, const Mat& x, const std::string& norm) const {
        const std::string p = "layers." + std::to_string(layer);
        Mat hidden = linear(p + ".linear1", x);
        if (config_.activation == "relu") hidden = hidden.cwiseMax(0.0);
        else hidden = hidden.unaryExpr([](double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); });
        return layer_norm(p + "." + norm, x + linear(p + ".linear2", hidden));
    }

    // phi of per-head rows: x (R, D) laid out as `layout`.
    Mat features(const std::string& prefix, const Mat& x, RowLayout layout) const {
        FeatureMapOptions options;
        options.name = config_.feature_map;
        options.query_dimensions = static_cast<int>(x.cols());
        options.n_dims = config_.feature_map_dimensions;
        options.stabilize = config_.feature_map_stabilize;
        const auto map = make_feature_map(options);
        const auto omega = tensors_.find(omega_name(prefix));
        RowMatrix phi;
        map->apply_scalar(x.cast<float>(), omega == tensors_.end() ? RowMatrix() : matrix_of(omega->second), phi,
                          layout);
        return phi.cast<double>();
    }

    // The self-attention weights of `layer` from its input, by a plain loop over every stored key.
    std::vector<double> self_weights(int layer, bool is_linear) const {
        const long H = config_.n_heads, D = config_.query_dimensions, T = steps_, N = batch_;
        const std::string p = self_prefix(layer);
        const Mat x = input(layer);
        const Mat q = linear(p + ".query_projection", x), k = linear(p + ".key_projection", x);
        std::vector<double> a(size_t(N * H * T * T), 0.0);
        auto at = [&](long n, long h, long t, long j) -> double& { return a[size_t(((n * H + h) * T + t) * T + j)]; };
        // Per step, rows (n, h) of phi(q) and phi(k), as the recurrent layer lays them out.
        std::vector<Mat> phi_q(T), phi_k(T);
        for (long t = 0; t < T && is_linear; ++t) {
            Mat qh(N * H, D), kh(N * H, D);
            for (long n = 0; n < N; ++n)
                for (long h = 0; h < H; ++h) {
                    qh.row(n * H + h) = q.row(t * N + n).segment(h * D, D);
                    kh.row(n * H + h) = k.row(t * N + n).segment(h * D, D);
                }
            phi_q[t] = features(p, qh, {int(N), int(H), 1});
            phi_k[t] = features(p, kh, {int(N), int(H), 1});
        }
        const double temperature = config_.softmax_temp.value_or(1.0 / std::sqrt(double(D)));
        for (long n = 0; n < N; ++n)
            for (long h = 0; h < H; ++h)
                for (long t = 0; t < T; ++t) {
                    double total = 0;
                    for (long j = 0; j <= t; ++j) {
                        if (is_linear) {
                            at(n, h, t, j) = phi_q[t].row(n * H + h).dot(phi_k[j].row(n * H + h));
                            total += at(n, h, t, j);
                        } else {
                            at(n, h, t, j) = std::exp(temperature * q.row(t * N + n).segment(h * D, D).dot(
                                                                        k.row(j * N + n).segment(h * D, D)));
                            total += at(n, h, t, j);
                        }
                    }
                    for (long j = 0; j <= t; ++j) at(n, h, t, j) /= is_linear ? total + config_.eps : total;
                }
        return a;
    }

    // The cross-attention weights (N, H, T, S) of `layer`, given its queries' input, masked by the memory lengths.
    std::vector<double> cross_weights(int layer, bool is_linear, const Mat& query_input) const {
        const long H = config_.effective_cross_n_heads(), D = config_.effective_cross_query_dimensions();
        const long T = steps_, N = batch_, S = memory_.length;
        const std::string p = cross_prefix(layer);
        const Mat q = linear(p + ".query_projection", query_input);
        const Mat k = linear(p + ".key_projection", memory_.values.cast<double>());  // rows (n, s)
        Mat kh(N * S * H, D);                                                        // rows (n, s, h)
        for (long r = 0; r < N * S; ++r)
            for (long h = 0; h < H; ++h) kh.row(r * H + h) = k.row(r).segment(h * D, D);
        const Mat phi_k = is_linear ? features(p, kh, {int(N), int(S), int(H)}) : Mat();
        const double temperature = config_.softmax_temp.value_or(1.0 / std::sqrt(double(D)));
        std::vector<double> a(size_t(N * H * T * S), 0.0);
        for (long t = 0; t < T; ++t) {
            Mat qh(N * H, D);
            for (long n = 0; n < N; ++n)
                for (long h = 0; h < H; ++h) qh.row(n * H + h) = q.row(t * N + n).segment(h * D, D);
            const Mat phi_q = is_linear ? features(p, qh, {int(N), int(H), 1}) : Mat();
            for (long n = 0; n < N; ++n)
                for (long h = 0; h < H; ++h) {
                    const long valid = memory_.lengths[size_t(n)];
                    double* row = a.data() + ((n * H + h) * T + t) * S;
                    double total = 0;
                    for (long s = 0; s < valid; ++s) {
                        row[s] = is_linear ? phi_q.row(n * H + h).dot(phi_k.row((n * S + s) * H + h))
                                           : std::exp(temperature * qh.row(n * H + h).dot(kh.row((n * S + s) * H + h)));
                        total += row[s];
                    }
                    for (long s = 0; s < valid; ++s) row[s] /= is_linear ? total + config_.eps : total;
                }
        }
        return a;
    }

    // sum_j a[n, h, t, j] v_j for every (t, n) -> (T*N, H*M); `key_row(n, j)` is the row of v_j in `values`.
    template <typename KeyRow>
    Mat attend(const Tensor& weights, const Mat& values, long heads, long value_dims, KeyRow key_row) const {
        const long T = steps_, N = batch_, K = weights.shape[3];
        Mat out = Mat::Zero(T * N, heads * value_dims);
        for (long n = 0; n < N; ++n)
            for (long h = 0; h < heads; ++h)
                for (long t = 0; t < T; ++t)
                    for (long j = 0; j < K; ++j)
                        out.row(t * N + n).segment(h * value_dims, value_dims) +=
                            weights.values[size_t(((n * heads + h) * T + t) * K + j)] *
                            values.row(key_row(n, j)).segment(h * value_dims, value_dims);
        return out;
    }

private:
    const TensorMap tensors_;  // copied out once: Model::tensors() builds a new map on each call
    const ModelConfig& config_;
    long steps_ = 0, batch_ = 0;
    Mat input_;
    Memory memory_;
    std::vector<Mat> outputs_;
    std::vector<State> states_;
};

std::vector<double> values_of(const Mat& m) {
    std::vector<double> out(size_t(m.size()));
    Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(out.data(), m.rows(), m.cols()) =
        m;
    return out;
}

// Singular values per (t, n, h) scaled by the largest of their row in `scale`, so 1e-4 is relative to it.
std::vector<double> relative_rows(const std::vector<float>& values, const std::vector<double>& scale, long width) {
    std::vector<double> out(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
        const double largest = scale[i / size_t(width) * size_t(width)];
        out[i] = largest > 0 ? values[i] / largest : values[i];
    }
    return out;
}

// Records every step's self-attention maps as (N, H, T, T), as replay writes them.
struct MapRecorder : StepObserver {
    long steps = 0, t = 0;
    std::map<int, Tensor> maps;
    bool any_signed = false;
    void attention_map(int layer, AttentionRole role, const AttentionMap& map) override {
        if (role != AttentionRole::Self) return;
        any_signed = any_signed || map.is_signed;
        auto found = maps.find(layer);
        if (found == maps.end())
            found = maps.emplace(layer, Tensor::f32_zeros({map.batch, map.heads, steps, steps})).first;
        for (long r = 0; r < map.weights.rows(); ++r)
            for (long c = 0; c < map.weights.cols(); ++c)
                found->second.values[size_t((r * steps + t) * steps + map.first_key + c)] = map.weights(r, c);
    }
};

// Self attention of an encoder layer from its weights: norm2(h + ff(h)), h = norm1(x + out(sum_j A[t, j] v_j)), in
// double, against what the engine stepped.
void check_map_reproduces_output(const Recomputation& reference, const ModelConfig& config, int l,
                                 const Tensor& attention, const std::string& where) {
    const long N = reference.batch(), H = config.n_heads, M = config.value_dimensions;
    const Mat x = reference.input(l);
    const std::string p = reference.self_prefix(l);
    const Mat values = reference.linear(p + ".value_projection", x);
    const Mat attended = reference.attend(attention, values, H, M, [&](long n, long j) { return j * N + n; });
    const Mat hidden = reference.layer_norm("layers." + std::to_string(l) + ".norm1",
                                            x + reference.linear(p + ".out_projection", attended));
    const std::vector<double> output = values_of(reference.feed_forward(l, hidden, "norm2"));
    const std::vector<double> stepped = values_of(reference.output(l));
    STEPSCOPE_COMPARE_CLOSE(where + " output from the weights", output, stepped, 1e-4, 0.0);
}

}  // namespace

class ViewsTest : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

    SafetensorsFile replay(const std::string& case_name, const QStringList& extra) {
        const QString out =
            dir_.path() + "/" + QString::fromStdString(case_name) + extra.join("_").remove(',') + ".safetensors";
        const CliResult result = run_stepscope(
            QStringList{"replay", "--model",
                        QString::fromStdString(testing::golden_path(case_name, "model.safetensors")), "--inputs",
                        QString::fromStdString(testing::golden_path(case_name, "io.safetensors")), "--output", out} +
            extra);
        if (result.exit_code != 0) qWarning("%s", qPrintable(result.stderr_text));
        return result.exit_code == 0 ? read_safetensors(out.toStdString()) : SafetensorsFile{};
    }

private slots:
    void encoder_views_match_reference_and_recomputation_data() {
        QTest::addColumn<QString>("name");
        for (const char* name : {"enc_linear", "enc_full", "enc_linear_feedback", "enc_favor"})
            QTest::newRow(name) << name;
    }

    void encoder_views_match_reference_and_recomputation() {
        QFETCH(QString, name);
        const std::string case_name = name.toStdString();
        const auto model = load_model(testing::golden_path(case_name, "model.safetensors"));
        const SafetensorsFile io = read_safetensors(testing::golden_path(case_name, "io.safetensors"));
        const SafetensorsFile views = replay(case_name, {"--observe", "attention,spectrum"});
        QVERIFY(!views.tensors.empty());
        const Recomputation reference(*model, io);
        const ModelConfig& config = model->config();
        const bool linear = config.attention_type != "full";
        const long T = reference.steps(), N = reference.batch(), H = config.n_heads, M = config.value_dimensions;

        std::map<std::string, Tensor> golden;
        if (QFile::exists(QString::fromStdString(testing::golden_path(case_name, "views.safetensors"))))
            golden = read_safetensors(testing::golden_path(case_name, "views.safetensors")).tensors;

        for (int l = 0; l < config.n_layers; ++l) {
            const std::string where = case_name + " layer " + std::to_string(l);
            const Tensor& attention = views.tensors.at("attention." + std::to_string(l));
            QCOMPARE(attention.shape, (std::vector<int64_t>{N, H, T, T}));
            // The weights against a plain loop over phi of every key (or a softmax), zeros above the diagonal included.
            const std::vector<double> expected = reference.self_weights(l, linear);
            STEPSCOPE_COMPARE_CLOSE(where + " attention vs recomputed", attention.values, expected, 1e-4, 0.0);
            for (long r = 0; r < N * H * T && !linear; ++r) {
                double total = 0;
                for (long j = 0; j < T; ++j) total += attention.values[size_t(r * T + j)];
                QVERIFY2(std::abs(total - 1.0) < 1e-5, "a softmax row does not sum to 1");
            }
            if (golden.count("attention." + std::to_string(l))) {
                const std::vector<float>& wanted = golden.at("attention." + std::to_string(l)).values;
                STEPSCOPE_COMPARE_CLOSE(where + " attention vs reference", attention.values, wanted, 1e-4, 0.0);
            }

            // The weights times the values reproduce the layer's output.
            check_map_reproduces_output(reference, config, l, attention, where);

            if (!linear) {
                QVERIFY(!views.tensors.count("spectrum." + std::to_string(l)));
                continue;
            }
            // The spectrum against a Jacobi SVD of each stored S, relative to its largest singular value.
            const Tensor& spectrum = views.tensors.at("spectrum." + std::to_string(l));
            const long F = reference.state_after(0).layers[size_t(l)].self_attention.linear().normalizer.cols();
            const long rank = std::min(F, M);
            QCOMPARE(spectrum.shape, (std::vector<int64_t>{T, N, H, rank}));
            std::vector<double> sigma(size_t(T * N * H * rank));
            for (long t = 0; t < T; ++t) {
                const RowMatrix& sums = reference.state_after(t).layers[size_t(l)].self_attention.linear().sums;
                for (long r = 0; r < N * H; ++r) {
                    const Eigen::JacobiSVD<Mat> svd(sums.middleRows(r * F, F).cast<double>());
                    for (long i = 0; i < rank; ++i) sigma[size_t((t * N * H + r) * rank + i)] = svd.singularValues()[i];
                }
            }
            // (The comparison macro reads its arguments per element: relative values are computed first.)
            const std::vector<double> produced = relative_rows(spectrum.values, sigma, rank);
            const std::vector<double> jacobi =
                relative_rows(std::vector<float>(sigma.begin(), sigma.end()), sigma, rank);
            STEPSCOPE_COMPARE_CLOSE(where + " spectrum vs Jacobi SVD (relative)", produced, jacobi, 1e-4, 0.0);
            if (golden.count("spectrum." + std::to_string(l))) {
                const Tensor& want = golden.at("spectrum." + std::to_string(l));
                const std::vector<double> scale(want.values.begin(), want.values.end());
                const std::vector<double> produced_scaled = relative_rows(spectrum.values, scale, rank);
                const std::vector<double> wanted = relative_rows(want.values, scale, rank);
                STEPSCOPE_COMPARE_CLOSE(where + " spectrum vs reference (relative)", produced_scaled, wanted, 1e-4,
                                        0.0);
            }
        }
    }

    void ablated_head_matches_reference_and_zeroed_weights_data() {
        QTest::addColumn<QString>("name");
        for (const char* name : {"enc_linear", "enc_full", "enc_linear_feedback", "enc_favor", "dec_linear",
                                 "enc_delta", "enc_gated_linear"})
            QTest::newRow(name) << name;
    }

    // --ablate 1:1 equals the model whose out projection ignores head 1 of layer 1 (its columns zeroed).
    void ablated_head_matches_reference_and_zeroed_weights() {
        QFETCH(QString, name);
        const std::string case_name = name.toStdString();
        const SafetensorsFile ablated = replay(case_name, {"--ablate", "1:1"});
        QVERIFY(!ablated.tensors.empty());
        const Tensor& y = ablated.tensors.at("y");
        const auto model = load_model(testing::golden_path(case_name, "model.safetensors"));
        const ModelConfig& config = model->config();
        TensorMap tensors = model->tensors();
        const bool decoder = config.kind == ModelKind::Decoder;
        Tensor& out = tensors.at(std::string("layers.1.") + (decoder ? "self_attention" : "attention") +
                                 ".out_projection.weight");  // (E, H*M)
        const long M = config.value_dimensions;
        for (long e = 0; e < out.shape[0]; ++e)
            for (long m = M; m < 2 * M; ++m) out.values[size_t(e * out.shape[1] + m)] = 0.0f;
        const auto silenced = Model::from_tensors(config, tensors);

        const SafetensorsFile io = read_safetensors(testing::golden_path(case_name, "io.safetensors"));
        const Tensor& x = io.tensors.at("x");
        const long batch = x.shape[1], width = x.shape[2];
        State state = silenced->new_state();
        RowMatrix y_t;
        std::vector<float> expected;
        for (long t = 0; t < x.shape[0]; ++t) {
            const Eigen::Map<const RowMatrix> x_t(x.values.data() + t * batch * width, batch, width);
            if (decoder) silenced->step(x_t, decoder_memory(io.tensors, "io.safetensors"), state, y_t);
            else silenced->step(x_t, state, y_t);
            expected.insert(expected.end(), y_t.data(), y_t.data() + y_t.size());
        }
        STEPSCOPE_COMPARE_CLOSE(case_name + " ablated y vs zeroed weights", y.values, expected, 1e-4, 0.0);
        const std::string views = testing::golden_path(case_name, "views.safetensors");
        // The delta-rule family's views hold no ablated run: the zeroed weights above are their check.
        const SafetensorsFile golden =
            QFile::exists(QString::fromStdString(views)) ? read_safetensors(views) : SafetensorsFile{};
        if (golden.tensors.count("y_ablated")) {
            const Tensor& wanted = golden.tensors.at("y_ablated");
            STEPSCOPE_COMPARE_CLOSE(case_name + " ablated y vs reference", y.values, wanted.values, 1e-4, 0.0);
        }
        // And it changed something: head 1 did contribute.
        const Tensor& plain = io.tensors.at("y");
        double moved = 0;
        for (long i = 0; i < y.numel(); ++i) moved = std::max(moved, double(std::abs(y.values[i] - plain.values[i])));
        QVERIFY2(moved > 1e-3, "ablating head 1 of layer 1 left y as it was");
    }

    void decoder_views_are_masked_and_reproduce_the_output_data() {
        QTest::addColumn<QString>("name");
        for (const char* name : {"dec_linear", "dec_full"}) QTest::newRow(name) << name;
    }

    void decoder_views_are_masked_and_reproduce_the_output() {
        QFETCH(QString, name);
        const std::string case_name = name.toStdString();
        const auto model = load_model(testing::golden_path(case_name, "model.safetensors"));
        const SafetensorsFile io = read_safetensors(testing::golden_path(case_name, "io.safetensors"));
        const SafetensorsFile views = replay(case_name, {"--observe", "attention"});
        QVERIFY(!views.tensors.empty());
        const Recomputation reference(*model, io);
        const ModelConfig& config = model->config();
        const Memory memory = decoder_memory(io.tensors, "io.safetensors");
        const long T = reference.steps(), N = reference.batch(), S = memory.length;
        const long H = config.n_heads, M = config.value_dimensions;
        const long Hc = config.effective_cross_n_heads(), Mc = config.effective_cross_value_dimensions();
        for (int l = 0; l < config.n_layers; ++l) {
            const std::string where = case_name + " layer " + std::to_string(l);
            const std::string layer = "layers." + std::to_string(l);
            const Tensor& self = views.tensors.at("attention." + std::to_string(l));
            const Tensor& cross = views.tensors.at("cross_attention." + std::to_string(l));
            QCOMPARE(cross.shape, (std::vector<int64_t>{N, Hc, T, S}));
            const std::vector<double> self_expected = reference.self_weights(l, config.self_attention_type != "full");
            STEPSCOPE_COMPARE_CLOSE(where + " self attention vs recomputed", self.values, self_expected, 1e-4, 0.0);
            for (long n = 0; n < N; ++n)
                for (long h = 0; h < Hc; ++h)
                    for (long t = 0; t < T; ++t)
                        for (long s = memory.lengths[size_t(n)]; s < S; ++s)
                            QCOMPARE(cross.values[size_t(((n * Hc + h) * T + t) * S + s)], 0.0f);

            // Self attention's weights give the cross attention's queries; its weights give the output.
            const Mat x = reference.input(l);
            const Mat self_values = reference.linear(reference.self_prefix(l) + ".value_projection", x);
            const Mat self_attended =
                reference.attend(self, self_values, H, M, [&](long n, long j) { return j * N + n; });
            const Mat h1 =
                reference.layer_norm(layer + ".norm1",
                                     x + reference.linear(reference.self_prefix(l) + ".out_projection", self_attended));
            const std::vector<double> cross_expected =
                reference.cross_weights(l, config.cross_attention_type != "full", h1);
            STEPSCOPE_COMPARE_CLOSE(where + " cross attention vs recomputed", cross.values, cross_expected, 1e-4, 0.0);
            const Mat memory_values =
                reference.linear(reference.cross_prefix(l) + ".value_projection", memory.values.cast<double>());
            const Mat cross_attended =
                reference.attend(cross, memory_values, Hc, Mc, [&](long n, long s) { return n * S + s; });
            const Mat h2 = reference.layer_norm(layer + ".norm2",
                                                h1 + reference.linear(reference.cross_prefix(l) + ".out_projection",
                                                                      cross_attended));
            const std::vector<double> output = values_of(reference.feed_forward(l, h2, "norm3"));
            const std::vector<double> stepped = values_of(reference.output(l));
            STEPSCOPE_COMPARE_CLOSE(where + " output from the weights", output, stepped, 1e-4, 0.0);
        }
    }

    void delta_family_views_match_reference_data() {
        QTest::addColumn<QString>("name");
        for (const char* name : {"enc_delta", "enc_gated_delta", "enc_gated_linear"}) QTest::newRow(name) << name;
    }

    // replay --observe on the delta-rule family: the exact implicit weights against the reference's, and
    // reproducing each layer's output; the spectrum of S is there as for linear attention.
    void delta_family_views_match_reference() {
        QFETCH(QString, name);
        const std::string case_name = name.toStdString();
        const auto model = load_model(testing::golden_path(case_name, "model.safetensors"));
        const SafetensorsFile io = read_safetensors(testing::golden_path(case_name, "io.safetensors"));
        const SafetensorsFile views = replay(case_name, {"--observe", "attention,spectrum"});
        QVERIFY(!views.tensors.empty());
        const SafetensorsFile golden = read_safetensors(testing::golden_path(case_name, "views.safetensors"));
        const Recomputation reference(*model, io);
        const ModelConfig& config = model->config();
        const long T = reference.steps(), N = reference.batch(), H = config.n_heads;
        double most_negative = 0;
        for (int l = 0; l < config.n_layers; ++l) {
            const std::string where = case_name + " layer " + std::to_string(l);
            const Tensor& attention = views.tensors.at("attention." + std::to_string(l));
            QCOMPARE(attention.shape, (std::vector<int64_t>{N, H, T, T}));
            STEPSCOPE_COMPARE_CLOSE(where + " attention vs reference", attention.values,
                                    golden.tensors.at("attention." + std::to_string(l)).values, 1e-4, 0.0);
            check_map_reproduces_output(reference, config, l, attention, where);
            for (float a : attention.values) most_negative = std::min(most_negative, double(a));
            const Tensor& spectrum = views.tensors.at("spectrum." + std::to_string(l));
            QCOMPARE(spectrum.shape,
                     (std::vector<int64_t>{T, N, H, std::min(config.query_dimensions, config.value_dimensions)}));
        }
        // An overwrite subtracts: the delta rules' weights go negative on these inputs, gated linear's never.
        if (attention_capabilities(config.attention_type).signed_map) QVERIFY(most_negative < -1e-3);
        else QVERIFY(most_negative >= 0);
    }

    void every_kind_with_a_map_reproduces_its_output_data() {
        QTest::addColumn<QString>("attention");
        for (const std::string& kind : attention_kind_names())
            if (attention_capabilities(kind).attention_map) QTest::newRow(kind.c_str()) << QString::fromStdString(kind);
    }

    // On random weights and inputs, the map a kind observes is exact: its weights times the values are the
    // attention output, for every registered kind that declares a map.
    void every_kind_with_a_map_reproduces_its_output() {
        QFETCH(QString, attention);
        ModelConfig config;
        config.attention_type = attention.toStdString();
        config.n_layers = 2;
        config.n_heads = 3;
        config.query_dimensions = 4;
        config.value_dimensions = 5;
        config.feed_forward_dimensions = 16;
        const auto model = Model::create_random(config, 5);
        const long T = 12, N = 2, E = config.d_model();
        SafetensorsFile io;
        Tensor x = Tensor::f32_zeros({T, N, E});
        std::srand(8);
        Eigen::Map<RowMatrix>(x.values.data(), T * N, E) = RowMatrix::Random(T * N, E);
        io.tensors.emplace("x", x);

        ObservationOptions what;
        what.layers = {0, 1};
        what.attention = true;
        Observation observation(what);
        MapRecorder recorder;
        recorder.steps = T;
        State state = model->new_state();
        RowMatrix y;
        for (long t = 0; t < T; ++t) {
            recorder.t = t;
            const Eigen::Map<const RowMatrix> x_t(x.values.data() + t * N * E, N, E);
            model->step(x_t, state, y, StepOptions{&recorder, &observation});
        }
        QCOMPARE(recorder.any_signed, attention_capabilities(config.attention_type).signed_map);
        const Recomputation reference(*model, io);
        for (int l = 0; l < config.n_layers; ++l)
            check_map_reproduces_output(reference, config, l, recorder.maps.at(l),
                                        config.attention_type + " layer " + std::to_string(l));
    }

    void bad_view_arguments_exit_2_with_one_line() {
        const QString model = QString::fromStdString(testing::golden_path("enc_linear", "model.safetensors"));
        const QString io = QString::fromStdString(testing::golden_path("enc_linear", "io.safetensors"));
        const QString out = dir_.path() + "/bad.safetensors";
        const QStringList base = {"replay", "--model", model, "--inputs", io, "--output", out};
        for (const QStringList& extra : QList<QStringList>{{"--observe", "heatmap"},
                                                           {"--observe", ""},
                                                           {"--observe", ","},
                                                           {"--observe"},
                                                           {"--ablate", "1"},
                                                           {"--ablate", "1:"},
                                                           {"--ablate", "a:b"},
                                                           {"--ablate", "-1:0"},
                                                           {"--ablate", "1:1x"},
                                                           {"--ablate", "99999999999999999999:0"},
                                                           {"--ablate", "2:0"},
                                                           {"--ablate", "0:3"},
                                                           {"--ablate", "0:0", "--ablate", "0:3"},
                                                           {"--observe", "attention", "--device", "cuda"}})
            STEPSCOPE_VERIFY_USAGE_ERROR("replay", base + extra);
        QVERIFY(!QFile::exists(out));
    }
};

QTEST_APPLESS_MAIN(ViewsTest)
#include "test_views.moc"
