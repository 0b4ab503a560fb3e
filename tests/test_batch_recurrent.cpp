// The identity the recurrent form rests on: stepping equals the causal batch encoder, for every attention.
#include <QtTest>

#include "stepscope/attention_kind.h"
#include "stepscope/feature_map.h"
#include "stepscope/intervention.h"
#include "stepscope/model.h"
#include "test_support.h"

using namespace stepscope;

class BatchRecurrentTest : public QObject {
    Q_OBJECT

private slots:
    void recurrent_equals_batch_data() {
        QTest::addColumn<QString>("attention");
        QTest::addColumn<QString>("feature_map");
        // Every registered kind; those with a feature map under every map too.
        for (const std::string& kind : attention_kind_names()) {
            QTest::newRow(kind.c_str()) << QString::fromStdString(kind) << "elu";
            if (!attention_capabilities(kind).feature_map) continue;
            for (const std::string& map : feature_map_names())
                if (map != "elu")
                    QTest::newRow((kind + "/" + map).c_str())
                        << QString::fromStdString(kind) << QString::fromStdString(map);
        }
    }

    void recurrent_equals_batch() {
        QFETCH(QString, attention);
        QFETCH(QString, feature_map);
        ModelConfig config;
        config.attention_type = attention.toStdString();
        config.feature_map = feature_map.toStdString();
        if (make_feature_map(feature_map_options(config, 6))->is_random()) config.feature_map_dimensions = 32;
        config.n_layers = 2;
        config.n_heads = 2;
        config.query_dimensions = 6;
        config.value_dimensions = 5;
        config.feed_forward_dimensions = 24;
        config.activation = "gelu";
        const auto model = Model::create_random(config, 21);
        const int steps = 15, batch = 3, width = config.d_model();
        std::srand(4);
        const RowMatrix xs = RowMatrix::Random(long(steps) * batch, width);

        const RowMatrix batch_ys = model->forward_batch(xs, steps, /*sequence_seed=*/9);
        State state = model->new_state(9);
        RowMatrix y, recurrent_ys(long(steps) * batch, width);
        for (int t = 0; t < steps; ++t) {
            model->step(xs.middleRows(long(t) * batch, batch), state, y);
            recurrent_ys.middleRows(long(t) * batch, batch) = y;
        }
        STEPSCOPE_COMPARE_CLOSE(attention.toStdString() + "/" + feature_map.toStdString(), recurrent_ys, batch_ys, 1e-4,
                                0.0);
    }

    void block_equals_stepping_data() {
        QTest::addColumn<QString>("attention");
        QTest::addColumn<QString>("precision");
        QTest::addColumn<bool>("ablated");
        for (const std::string& kind : attention_kind_names())
            for (const char* precision : {"f32", "bf16", "q8"})
                for (const bool ablated : {false, true})
                    QTest::newRow((kind + " " + precision + (ablated ? " ablated" : "")).c_str())
                        << QString::fromStdString(kind) << precision << ablated;
    }

    // Known inputs in blocks of uneven lengths (Model::step_block) against one step at a time, plain (where a
    // kind takes a block whole) and with a head ablated from the middle of a block (which steps each block),
    // under relu and gelu: the outputs and the state bit for bit, since every step's arithmetic is the same in a
    // block (LayerNorm's sums too, whatever the rows' alignment), and the step count.
    void block_equals_stepping() {
        QFETCH(QString, attention);
        QFETCH(QString, precision);
        QFETCH(bool, ablated);
        for (const char* activation : {"relu", "gelu"}) {
            ModelConfig config;
            config.attention_type = attention.toStdString();
            config.precision = precision.toStdString();
            config.activation = activation;
            config.n_layers = 2;
            config.n_heads = 3;
            config.query_dimensions = 8;
            config.value_dimensions = 6;
            config.feed_forward_dimensions = 40;
            const auto model = Model::create_random(config, 31);
            const int steps = 17, batch = 3, width = config.d_model();
            std::srand(5);
            const RowMatrix xs = RowMatrix::Random(long(steps) * batch, width);
            Ablation ablation;
            if (ablated) ablation.heads.push_back({1, 2, 9});
            const StepOptions options{nullptr, nullptr, &ablation};

            State stepped = model->new_state(4), blocked = model->new_state(4);
            RowMatrix y, stepped_ys(long(steps) * batch, width), blocked_ys(long(steps) * batch, width), block_ys;
            for (int t = 0; t < steps; ++t) {
                model->step(xs.middleRows(long(t) * batch, batch), stepped, y, options);
                stepped_ys.middleRows(long(t) * batch, batch) = y;
            }
            int first = 0;
            for (const int length : {1, 7, 5, 4}) {
                model->step_block(xs.middleRows(long(first) * batch, long(length) * batch), length, blocked, block_ys,
                                  options);
                blocked_ys.middleRows(long(first) * batch, long(length) * batch) = block_ys;
                first += length;
            }
            QCOMPARE(first, steps);
            QCOMPARE(blocked.step, stepped.step);
            QVERIFY2(blocked_ys == stepped_ys, activation);
            for (int l = 0; l < config.n_layers; ++l) {
                const AttentionState& a = stepped.layers[size_t(l)].self_attention;
                const AttentionState& b = blocked.layers[size_t(l)].self_attention;
                if (const LinearAttentionState* sums = a.find<LinearAttentionState>())
                    QVERIFY2(b.linear().sums == sums->sums && b.linear().normalizer == sums->normalizer, activation);
                if (const KeyValueCache* cache = a.find<KeyValueCache>())
                    QVERIFY2(b.cache().head_values(0) == cache->head_values(0), activation);
            }
        }
    }

    // A block that would pass the longest sequence the state holds, or changes the batch, is refused whole.
    void bad_blocks_are_refused_and_change_nothing() {
        ModelConfig config;
        config.attention_type = "linear";
        config.n_layers = 1;
        config.n_heads = 2;
        config.query_dimensions = config.value_dimensions = 4;
        config.feed_forward_dimensions = 8;
        const auto model = Model::create_random(config, 1);
        State state = model->new_state();
        RowMatrix ys;
        model->step_block(RowMatrix::Ones(6, 8), 3, state, ys);
        const State before = state;
        QVERIFY(testing::error_of([&] { model->step_block(RowMatrix::Ones(8, 8), 2, state, ys); }).contains("batch"));
        QVERIFY(testing::error_of([&] { model->step_block(RowMatrix::Ones(7, 8), 2, state, ys); }).contains("block"));
        QVERIFY(testing::error_of([&] { model->step_block(RowMatrix::Ones(6, 5), 3, state, ys); }).contains("width"));
        QVERIFY(state == before);
    }
};

QTEST_APPLESS_MAIN(BatchRecurrentTest)
#include "test_batch_recurrent.moc"
