// The identity the recurrent form rests on: stepping equals the causal batch encoder, for every attention.
#include <QtTest>

#include "stepscope/attention_kind.h"
#include "stepscope/feature_map.h"
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
                    QTest::newRow((kind + "/" + map).c_str()) << QString::fromStdString(kind) << QString::fromStdString(map);
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
        STEPSCOPE_COMPARE_CLOSE(attention.toStdString() + "/" + feature_map.toStdString(), recurrent_ys, batch_ys, 1e-4, 0.0);
    }
};

QTEST_APPLESS_MAIN(BatchRecurrentTest)
#include "test_batch_recurrent.moc"
