// Observation and interventions in the engine: kernels against their scalar references, bounded histories, state edits.
#include <QtTest>

#include <cmath>
#include <functional>
#include <random>

#include "stepscope/attention_kind.h"
#include "stepscope/implicit_attention.h"
#include "stepscope/intervention.h"
#include "stepscope/observation.h"
#include "stepscope/state_spectrum.h"
#include "test_support.h"
#include "insight/view_reference.h"

using namespace stepscope;

namespace {

ModelConfig small_config(const std::string& attention) {
    ModelConfig config;
    config.kind = ModelKind::Encoder;
    config.attention_type = attention;
    config.n_layers = 2;
    config.n_heads = 3;
    config.query_dimensions = config.value_dimensions = 4;
    config.feed_forward_dimensions = 16;
    return config;
}

ModelConfig small_decoder() {
    ModelConfig config = small_config("linear");
    config.kind = ModelKind::Decoder;
    config.self_attention_type = "linear";
    config.cross_attention_type = "linear";
    return config;
}

// Keeps the last attention map and capacity of every layer and role it is shown.
struct Recorder : StepObserver {
    std::map<std::pair<int, int>, RowMatrix> maps;
    std::map<std::pair<int, int>, int> first_keys;
    std::map<std::pair<int, int>, StateCapacity> capacities;
    void attention_map(int layer, AttentionRole role, const AttentionMap& map) override {
        maps[{layer, int(role)}] = map.weights;
        first_keys[{layer, int(role)}] = map.first_key;
    }
    void state_capacity(int layer, AttentionRole role, const StateCapacity& capacity) override {
        capacities[{layer, int(role)}] = capacity;
    }
};

RowMatrix input(int step, int batch, int width) {
    std::srand(unsigned(step + 1));
    return RowMatrix::Random(batch, width);
}

ObservationOptions everything(std::vector<int> layers) {
    ObservationOptions what;
    what.layers = std::move(layers);
    what.attention = what.spectrum = true;
    return what;
}

}  // namespace

class InterventionsTest : public QObject {
    Q_OBJECT

private slots:
    // The fast implicit-attention kernel against its scalar loop, over a ring that has wrapped.
    void implicit_attention_matches_scalar_over_a_wrapped_ring() {
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
        const int rows = 6, features = 5, window = 4, heads = 3;
        FeatureHistory history;
        history.restart(rows, features, window, 0);
        RowMatrix normalizer = RowMatrix::Zero(rows, features);
        for (int t = 0; t < 7; ++t) {
            const RowMatrix phi = RowMatrix::NullaryExpr(rows, features, [&] { return uniform(rng); });
            history.append(phi);
            normalizer += phi;
        }
        QCOMPARE(history.length(), window);
        QCOMPARE(history.first_step(), int64_t(3));
        const RowMatrix phi_q = RowMatrix::NullaryExpr(rows, features, [&] { return uniform(rng); });
        for (const std::vector<int>& lengths : {std::vector<int>{}, std::vector<int>{2, 4}}) {
            RowMatrix fast, scalar;
            linear_attention_weights(phi_q, normalizer, 1e-6f, history, lengths, heads, fast);
            reference::linear_attention_weights(phi_q, normalizer, 1e-6f, history, lengths, heads, scalar);
            QCOMPARE(fast.cols(), long(window));
            STEPSCOPE_COMPARE_CLOSE("implicit attention", fast, scalar, 1e-6, 1e-5);
            if (!lengths.empty()) QCOMPARE(fast.block(0, 2, heads, 2).cwiseAbs().maxCoeff(), 0.0f);
            // From the second held key on: the same weights without the first column.
            RowMatrix fast_newest, scalar_newest;
            linear_attention_weights(phi_q, normalizer, 1e-6f, history, lengths, heads, fast_newest, 1);
            reference::linear_attention_weights(phi_q, normalizer, 1e-6f, history, lengths, heads, scalar_newest, 1);
            QCOMPARE(fast_newest, RowMatrix(fast.rightCols(window - 1)));
            STEPSCOPE_COMPARE_CLOSE("implicit attention, newest keys", fast_newest, scalar_newest, 1e-6, 1e-5);
        }
    }

    // The Gram-eigenvalue spectrum against Jacobi SVD, including a rank-deficient S and a wide one.
    void spectrum_matches_jacobi_svd() {
        std::srand(3);
        for (const auto [features, value_dims] : {std::pair{8, 8}, std::pair{12, 5}, std::pair{5, 9}}) {
            RowMatrix sums = RowMatrix::Random(4 * features, value_dims);
            sums.middleRows(features, features) = RowMatrix::Random(features, 1) * RowMatrix::Random(1, value_dims);
            RowMatrix fast, scalar;
            singular_values(sums, features, fast);
            reference::singular_values(sums, features, scalar);
            QCOMPARE(fast.cols(), long(std::min(features, value_dims)));
            for (long r = 0; r < fast.rows(); ++r) {
                const double largest = scalar(r, 0);
                for (long i = 0; i < fast.cols(); ++i) QVERIFY(std::abs(fast(r, i) - scalar(r, i)) <= 1e-5 * largest);
            }
            QVERIFY(effective_rank(fast.row(1).data(), int(fast.cols())) < 1.0001f);
        }
        const float equal[4] = {2, 2, 2, 2}, none[3] = {0, 0, 0};
        QCOMPARE(effective_rank(equal, 4), 4.0f);
        QCOMPARE(effective_rank(none, 3), 0.0f);
    }

    // Observing changes no output, and the maps agree with themselves three ways:
    // one batch element against all, and a bounded history against an unbounded one.
    void observing_changes_nothing_and_bounded_views_agree() {
        const auto model = Model::create_random(small_config("linear"), 1);
        const int batch = 2, width = model->config().d_model(), heads = 3, features = 4;
        State plain = model->new_state(), observed = model->new_state(), single = model->new_state(),
              bounded = model->new_state(), newest_state = model->new_state();
        ObservationOptions one = everything({1});
        one.batch_element = 1;
        ObservationOptions small = everything({1});
        small.history_bytes = 5 * heads * batch * features * sizeof(float);  // 5 steps
        ObservationOptions newest = everything({1});
        newest.attention_keys = 3;
        Observation all_of(everything({0, 1})), one_of(one), window_of(small), newest_of(newest);
        Recorder all, element, windowed, newest_keys;
        RowMatrix y_plain, y;
        for (int t = 0; t < 9; ++t) {
            const RowMatrix x = input(t, batch, width);
            model->step(x, plain, y_plain);
            model->step(x, observed, y, StepOptions{&all, &all_of});
            QCOMPARE(y, y_plain);
            model->step(x, single, y, StepOptions{&element, &one_of});
            model->step(x, bounded, y, StepOptions{&windowed, &window_of});
            model->step(x, newest_state, y, StepOptions{&newest_keys, &newest_of});
        }
        const RowMatrix& full = all.maps.at({1, 0});
        QCOMPARE(full.rows(), long(batch * heads));
        QCOMPARE(full.cols(), 9L);
        QVERIFY(!element.maps.count({0, 0}));  // layer 0 not observed there
        QCOMPARE(element.maps.at({1, 0}).rows(), long(heads));
        QCOMPARE(element.maps.at({1, 0}).cols(), 9L);
        QCOMPARE(element.maps.at({1, 0}), RowMatrix(full.bottomRows(heads)));
        const StateCapacity& capacity = element.capacities.at({1, 0});
        QCOMPARE(capacity.first_batch, 1);
        QCOMPARE(capacity.singular_values, RowMatrix(all.capacities.at({1, 0}).singular_values.bottomRows(heads)));
        QCOMPARE(windowed.first_keys.at({1, 0}), 4);
        QCOMPARE(windowed.maps.at({1, 0}).cols(), 5L);
        QCOMPARE(windowed.maps.at({1, 0}), RowMatrix(full.rightCols(5)));
        QVERIFY(window_of.bytes() <= small.history_bytes);
        // The newest keys alone: the full map's last columns, starting at their key.
        QCOMPARE(newest_keys.first_keys.at({1, 0}), 6);
        QCOMPARE(newest_keys.maps.at({1, 0}), RowMatrix(full.rightCols(3)));
        // A linear row sums to phi(q).Z / (phi(q).Z + eps): just under 1.
        for (long r = 0; r < full.rows(); ++r) QVERIFY(std::abs(full.row(r).sum() - 1.0f) < 1e-4f);
        for (const float d : capacity.denominator) QVERIFY(d > 0);
    }

    // Scrubbing back: stepping from an earlier state continues the history from there.
    void history_follows_a_run_scrubbed_back() {
        const auto model = Model::create_random(small_config("linear"), 2);
        const int batch = 1, width = model->config().d_model();
        Observation observation(everything({0}));
        Recorder recorder;
        State state = model->new_state();
        RowMatrix y;
        std::vector<State> states;
        for (int t = 0; t < 6; ++t) {
            states.push_back(state);
            model->step(input(t, batch, width), state, y, StepOptions{&recorder, &observation});
        }
        const RowMatrix straight = recorder.maps.at({0, 0});
        State branch = states[3];
        for (int t = 3; t < 6; ++t)
            model->step(input(t, batch, width), branch, y, StepOptions{&recorder, &observation});
        QCOMPARE(recorder.maps.at({0, 0}), straight);
        State fresh = model->new_state();
        model->step(input(0, batch, width), fresh, y, StepOptions{&recorder, &observation});
        QCOMPARE(recorder.maps.at({0, 0}).cols(), 1L);
    }

    void softmax_capacity_has_cache_length_and_row_entropy() {
        const auto model = Model::create_random(small_config("full"), 3);
        Observation observation(everything({0}));
        Recorder recorder;
        State state = model->new_state();
        RowMatrix y;
        for (int t = 0; t < 4; ++t)
            model->step(input(t, 2, model->config().d_model()), state, y, StepOptions{&recorder, &observation});
        const StateCapacity& capacity = recorder.capacities.at({0, 0});
        QCOMPARE(capacity.cache_length, 4);
        QCOMPARE(int(capacity.row_entropy.size()), 6);
        const RowMatrix& map = recorder.maps.at({0, 0});
        for (long r = 0; r < map.rows(); ++r) {
            QVERIFY(std::abs(map.row(r).sum() - 1.0f) < 1e-5f);
            QVERIFY(capacity.row_entropy[size_t(r)] > 0 && capacity.row_entropy[size_t(r)] <= std::log(4.0f) + 1e-5f);
        }
    }

    void decoder_cross_map_respects_memory_lengths() {
        const auto model = Model::create_random(small_decoder(), 4);
        Memory memory;
        memory.batch = 2;
        memory.length = 5;
        memory.values = RowMatrix::Random(10, model->config().effective_cross_model_dimensions());
        memory.lengths = {5, 2};
        Observation observation(everything({1}));
        Recorder recorder;
        State state = model->new_state();
        RowMatrix y;
        for (int t = 0; t < 3; ++t)
            model->step(input(t, 2, model->config().d_model()), memory, state, y, StepOptions{&recorder, &observation});
        const RowMatrix& cross = recorder.maps.at({1, 1});
        QCOMPARE(cross.cols(), 5L);
        QCOMPARE(cross.bottomRightCorner(3, 3).cwiseAbs().maxCoeff(), 0.0f);
        for (long r = 0; r < cross.rows(); ++r) QVERIFY(std::abs(cross.row(r).sum() - 1.0f) < 1e-4f);
    }

    // An ablation from step 3 leaves steps 0..2 as they were and changes step 3 on.
    void ablation_starts_at_its_step() {
        const auto model = Model::create_random(small_config("linear"), 5);
        Ablation ablation;
        ablation.heads.push_back({1, 2, 3});
        State plain = model->new_state(), ablated = model->new_state();
        RowMatrix y_plain, y;
        for (int t = 0; t < 5; ++t) {
            const RowMatrix x = input(t, 2, model->config().d_model());
            model->step(x, plain, y_plain);
            model->step(x, ablated, y, StepOptions{nullptr, nullptr, &ablation});
            if (t < 3) QCOMPARE(y, y_plain);
            else QVERIFY((y - y_plain).cwiseAbs().maxCoeff() > 1e-4f);
        }
        QCOMPARE(ablated, plain);  // only the output is silenced: the states agree
    }

    void bad_ablations_and_observations_throw_and_change_nothing() {
        const auto model = Model::create_random(small_config("linear"), 6);
        State state = model->new_state();
        RowMatrix y;
        const RowMatrix x = input(0, 2, model->config().d_model());
        for (const HeadAblation& bad : {HeadAblation{2, 0}, HeadAblation{0, 3}, HeadAblation{-1, 0},
                                        HeadAblation{0, 0, -1}, HeadAblation{0, 0, 0, AttentionRole::Cross}}) {
            Ablation ablation;
            ablation.heads.push_back(bad);
            QVERIFY(!testing::error_of([&] {
                         model->step(x, state, y, StepOptions{nullptr, nullptr, &ablation});
                     }).isEmpty());
        }
        ObservationOptions far = everything({5});
        Observation layer_five(far);
        Recorder recorder;
        QVERIFY(testing::error_of([&] {
                    model->step(x, state, y, StepOptions{&recorder, &layer_five});
                }).contains("layer 5"));
        ObservationOptions element = everything({0});
        element.batch_element = 2;
        Observation third(element);
        QVERIFY(testing::error_of([&] {
                    model->step(x, state, y, StepOptions{&recorder, &third});
                }).contains("batch element 2"));
        QCOMPARE(state.step, int64_t(0));
    }

    void scale_head_erases_only_that_head() {
        const auto model = Model::create_random(small_config("linear"), 7);
        State state = model->new_state();
        RowMatrix y;
        for (int t = 0; t < 3; ++t) model->step(input(t, 2, model->config().d_model()), state, y);
        const State before = state;
        scale_head(*model, state, 1, AttentionRole::Self, 2, 0.0f);
        const LinearAttentionState& s = state.layers[1].self_attention.linear();
        const LinearAttentionState& b = before.layers[1].self_attention.linear();
        const int features = 4, heads = 3;
        for (int n = 0; n < 2; ++n)
            for (int h = 0; h < heads; ++h) {
                const long row = n * heads + h;
                const RowMatrix expected =
                    h == 2 ? RowMatrix::Zero(features, 4) : RowMatrix(b.sums.middleRows(row * features, features));
                QCOMPARE(RowMatrix(s.sums.middleRows(row * features, features)), expected);
                QCOMPARE(s.normalizer.row(row).cwiseAbs().maxCoeff() == 0.0f, h == 2);
            }
        QCOMPARE(state.layers[0], before.layers[0]);
        scale_head(*model, state, 0, AttentionRole::Self, 0, 2.0f);
        QCOMPARE(RowMatrix(state.layers[0].self_attention.linear().normalizer.row(0)),
                 RowMatrix(2.0f * before.layers[0].self_attention.linear().normalizer.row(0)));
        // Errors change nothing.
        const State edited = state;
        QVERIFY(!testing::error_of([&] { scale_head(*model, state, 2, AttentionRole::Self, 0, 0); }).isEmpty());
        QVERIFY(!testing::error_of([&] { scale_head(*model, state, 0, AttentionRole::Self, 3, 0); }).isEmpty());
        QVERIFY(!testing::error_of([&] { scale_head(*model, state, 0, AttentionRole::Cross, 0, 0); }).isEmpty());
        QCOMPARE(state, edited);
        const auto full = Model::create_random(small_config("full"), 7);
        State cached = full->new_state();
        full->step(input(0, 2, full->config().d_model()), cached, y);
        QVERIFY(
            testing::error_of([&] { scale_head(*full, cached, 0, AttentionRole::Self, 0, 0); }).contains("softmax"));
    }

    // A cleared cache attends to the next step alone; a cleared linear state restarts its sums.
    // Every registered kind: a head edit it declares changes that head's state alone and later outputs; one it
    // does not declare is refused naming the kind, and changes nothing.
    void every_kind_offers_the_edits_it_declares() {
        for (const std::string& kind : attention_kind_names()) {
            const AttentionCapabilities& offered = attention_capabilities(kind);
            const auto model = Model::create_random(small_config(kind), 12);
            State state = model->new_state();
            RowMatrix y, y_edited;
            for (int t = 0; t < 3; ++t) model->step(input(t, 2, model->config().d_model()), state, y);
            using Edit = std::function<void(State&)>;
            const std::vector<std::pair<bool, Edit>> edits = {
                {offered.scale_head, [&](State& s) { scale_head(*model, s, 1, AttentionRole::Self, 2, 0.0f); }},
                {offered.clear_head, [&](State& s) { clear_head_cache(*model, s, 1, AttentionRole::Self, 2); }}};
            for (const auto& [declared, edit] : edits) {
                State edited = state;
                const QString error = testing::error_of([&] { edit(edited); });
                if (!declared) {
                    QVERIFY2(error.contains(QString::fromStdString(offered.description)), qPrintable(error));
                    QCOMPARE(edited, state);
                    continue;
                }
                QVERIFY2(error.isEmpty(), qPrintable(error));
                QCOMPARE(edited.layers[0], state.layers[0]);
                QVERIFY(!(edited.layers[1] == state.layers[1]));
                State plain = state;
                const RowMatrix x = input(3, 2, model->config().d_model());
                model->step(x, plain, y);
                model->step(x, edited, y_edited);
                QVERIFY2((y - y_edited).cwiseAbs().maxCoeff() > 1e-5f, kind.c_str());
            }
        }
    }

    // A view a kind does not declare is refused naming the kind, before the state changes; one it declares is
    // computed. (A kind with no exact map is the test-only decayed-linear of CI's headless build.)
    void every_kind_is_observed_only_as_it_declares() {
        for (const std::string& kind : attention_kind_names()) {
            const AttentionCapabilities& offered = attention_capabilities(kind);
            const auto model = Model::create_random(small_config(kind), 13);
            for (const bool attention : {true, false}) {
                ObservationOptions what;
                what.layers = {1};
                what.attention = attention;
                what.spectrum = !attention;
                const bool declared = attention ? offered.attention_map : offered.spectrum || offered.cache_entropy;
                Observation observation(what);
                Recorder recorder;
                State state = model->new_state();
                RowMatrix y;
                const QString error = testing::error_of([&] {
                    model->step(input(0, 2, model->config().d_model()), state, y, StepOptions{&recorder, &observation});
                });
                if (declared) {
                    QVERIFY2(error.isEmpty(), qPrintable(error));
                    QCOMPARE(recorder.maps.count({1, 0}) == 1, attention);
                } else {
                    QVERIFY2(error.contains("'" + QString::fromStdString(kind) + "'"), qPrintable(error));
                    QCOMPARE(state.step, int64_t(0));
                }
            }
        }
    }

    void clear_layer_state_restarts_attention() {
        const auto model = Model::create_random(small_config("full"), 8);
        Observation observation(everything({1}));
        Recorder recorder;
        State state = model->new_state();
        RowMatrix y;
        for (int t = 0; t < 3; ++t) model->step(input(t, 2, model->config().d_model()), state, y);
        clear_layer_state(*model, state, 1);
        QCOMPARE(state.layers[1].self_attention.cache().length, 0);
        QCOMPARE(state.layers[0].self_attention.cache().length, 3);
        model->step(input(3, 2, model->config().d_model()), state, y, StepOptions{&recorder, &observation});
        QCOMPARE(recorder.maps.at({1, 0}).cols(), 1L);
        QCOMPARE(recorder.maps.at({1, 0}), RowMatrix(RowMatrix::Ones(6, 1)));
        QCOMPARE(recorder.first_keys.at({1, 0}), 3);

        const auto linear = Model::create_random(small_config("linear"), 8);
        State sums = linear->new_state();
        for (int t = 0; t < 3; ++t) linear->step(input(t, 2, linear->config().d_model()), sums, y);
        clear_layer_state(*linear, sums, 0);
        QCOMPARE(sums.layers[0].self_attention.linear().normalizer.cwiseAbs().maxCoeff(), 0.0f);
        QVERIFY(!testing::error_of([&] { clear_layer_state(*linear, sums, 2); }).isEmpty());
    }

    // A cleared head's cached steps hold zeros: they score alike and add nothing; other heads keep theirs.
    // In either cache precision.
    void clear_head_cache_zeroes_only_that_head_data() {
        QTest::addColumn<QString>("cache_precision");
        for (const std::string& precision : cache_precision_names())
            QTest::newRow(precision.c_str()) << QString::fromStdString(precision);
    }

    void clear_head_cache_zeroes_only_that_head() {
        QFETCH(QString, cache_precision);
        ModelConfig config = small_config("full");
        config.cache_precision = cache_precision.toStdString();
        const auto model = Model::create_random(config, 10);
        const int width = model->config().d_model(), heads = 3, dims = 4;
        State state = model->new_state();
        RowMatrix y;
        for (int t = 0; t < 3; ++t) model->step(input(t, 2, width), state, y);
        const State before = state;
        clear_head_cache(*model, state, 1, AttentionRole::Self, 2);
        const KeyValueCache& cache = state.layers[1].self_attention.cache();
        const KeyValueCache& original = before.layers[1].self_attention.cache();
        QCOMPARE(cache.length, 3);
        for (int row = 0; row < 2 * heads; ++row) {
            const bool cleared = row % heads == 2;
            QCOMPARE(RowMatrix(cache.head_keys(row)),
                     cleared ? RowMatrix(RowMatrix::Zero(3, dims)) : RowMatrix(original.head_keys(row)));
            QCOMPARE(RowMatrix(cache.head_values(row)),
                     cleared ? RowMatrix(RowMatrix::Zero(3, dims)) : RowMatrix(original.head_values(row)));
        }
        QCOMPARE(state.layers[0], before.layers[0]);

        Observation observation(everything({1}));
        Recorder recorder;
        model->step(input(3, 2, width), state, y, StepOptions{&recorder, &observation});
        const RowMatrix& weights = recorder.maps.at({1, 0});
        QCOMPARE(weights.cols(), 4L);
        for (int n = 0; n < 2; ++n) {
            const auto row = weights.row(n * heads + 2);
            QCOMPARE(row(0), row(1));
            QCOMPARE(row(0), row(2));
        }

        // Errors change nothing.
        const State edited = state;
        QVERIFY(!testing::error_of([&] { clear_head_cache(*model, state, 1, AttentionRole::Self, 3); }).isEmpty());
        QVERIFY(!testing::error_of([&] { clear_head_cache(*model, state, 2, AttentionRole::Self, 0); }).isEmpty());
        QVERIFY(!testing::error_of([&] { clear_head_cache(*model, state, 0, AttentionRole::Cross, 0); }).isEmpty());
        QCOMPARE(state, edited);
        const auto linear = Model::create_random(small_config("linear"), 10);
        State sums = linear->new_state();
        linear->step(input(0, 2, width), sums, y);
        QVERIFY(testing::error_of([&] {
                    clear_head_cache(*linear, sums, 0, AttentionRole::Self, 0);
                }).contains("linear attention"));
    }

    // After a clear at step s the head weighs steps before s 0 and sums to 1 over s..t, the other heads
    // attend exactly as without the clear, and clearing every head is clearing the layer.
    void clear_head_cache_is_an_emptied_cache() {
        const auto model = Model::create_random(small_config("full"), 10);
        const int width = model->config().d_model(), heads = 3, cleared = 2, s = 3;
        State state = model->new_state();
        RowMatrix y;
        for (int t = 0; t < s; ++t) model->step(input(t, 2, width), state, y);
        State plain = state, every_head = state, whole_layer = state;
        clear_head_cache(*model, state, 1, AttentionRole::Self, cleared);
        for (int h = 0; h < heads; ++h) clear_head_cache(*model, every_head, 1, AttentionRole::Self, h);
        clear_layer_state(*model, whole_layer, 1);
        Observation observation(everything({1})), plain_observation(everything({1}));
        for (int t = s; t < s + 4; ++t) {
            Recorder recorder, plain_recorder;
            RowMatrix y_plain, y_every, y_layer;
            model->step(input(t, 2, width), state, y, StepOptions{&recorder, &observation});
            model->step(input(t, 2, width), plain, y_plain, StepOptions{&plain_recorder, &plain_observation});
            model->step(input(t, 2, width), every_head, y_every);
            model->step(input(t, 2, width), whole_layer, y_layer);
            const RowMatrix& weights = recorder.maps.at({1, 0});
            const RowMatrix& plain_weights = plain_recorder.maps.at({1, 0});
            QCOMPARE(weights.cols(), long(t + 1));
            for (int row = 0; row < 2 * heads; ++row) {
                if (row % heads != cleared) {
                    QCOMPARE(RowMatrix(weights.row(row)), RowMatrix(plain_weights.row(row)));
                    continue;
                }
                QCOMPARE(weights.row(row).head(s).cwiseAbs().maxCoeff(), 0.0f);
                QVERIFY(std::abs(weights.row(row).tail(t + 1 - s).sum() - 1.0f) < 1e-5f);
            }
            const std::vector<float>& entropy = recorder.capacities.at({1, 0}).row_entropy;
            if (t == s) QCOMPARE(entropy[cleared], 0.0f);  // the first step after the clear attends to itself
            STEPSCOPE_COMPARE_CLOSE("every head cleared", y_every, y_layer, 1e-6, 1e-6);
        }
        QCOMPARE(state.layers[0], plain.layers[0]);
        QVERIFY(state.layers[1].self_attention.cache().has_starts());

        // Clearing the layer resets the starts: the next step attends to itself in every head.
        clear_layer_state(*model, state, 1);
        QVERIFY(state.layers[1].self_attention.cache().starts.empty());
        Recorder recorder;
        model->step(input(9, 2, width), state, y, StepOptions{&recorder, &observation});
        QCOMPARE(recorder.maps.at({1, 0}), RowMatrix(RowMatrix::Ones(6, 1)));
    }

    // Patching every layer from another run makes the next step that run's step.
    void copy_layer_state_patches_activations() {
        const auto model = Model::create_random(small_config("linear"), 9);
        const int width = model->config().d_model();
        State source = model->new_state(), target = model->new_state();
        RowMatrix y_source, y_target;
        for (int t = 0; t < 3; ++t) {
            model->step(input(t, 2, width), source, y_source);
            model->step(input(t + 10, 2, width), target, y_target);
        }
        copy_layer_state(*model, target, source, 0);
        QCOMPARE(target.layers[0], source.layers[0]);
        QVERIFY(!(target.layers[1] == source.layers[1]));
        copy_layer_state(*model, target, source, 1);
        model->step(input(3, 2, width), source, y_source);
        model->step(input(3, 2, width), target, y_target);
        QCOMPARE(y_target, y_source);

        State behind = model->new_state();
        model->step(input(0, 2, width), behind, y_target);
        const State kept = behind;
        QVERIFY(testing::error_of([&] { copy_layer_state(*model, behind, source, 0); }).contains("same step"));
        QVERIFY(!testing::error_of([&] { copy_layer_state(*model, behind, source, 2); }).isEmpty());
        QCOMPARE(behind, kept);
    }
};

QTEST_APPLESS_MAIN(InterventionsTest)
#include "test_interventions.moc"
