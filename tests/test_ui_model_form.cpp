// Form validation: impossible values show the engine's message next to their field and block Apply.
#include <QComboBox>
#include <QStandardItemModel>
#include <QtTest>

#include "model_panel.h"
#include "session/session_spec.h"

using namespace stepscope;
using namespace stepscope::ui;

class ModelFormTest : public QObject {
    Q_OBJECT

private slots:
    void defaults_are_valid() {
        ModelPanel panel;
        QVERIFY(panel.config().has_value());
        QCOMPARE(*panel.config(), ModelConfig{});
        QCOMPARE(panel.fieldText("n_layers"), QString("4"));
        QCOMPARE(panel.fieldText("attention_type"), QString("full"));
    }

    void cuda_is_offered_only_where_it_runs() {
        ModelPanel panel;
        auto* device = panel.findChild<QComboBox*>(QStringLiteral("device"));
        QVERIFY(device);
        QCOMPARE(panel.device(), Device::Cpu);
        const auto* items = qobject_cast<QStandardItemModel*>(device->model());
        QVERIFY(items);
        const DeviceStatus cuda = cuda_status();
        QCOMPARE(items->item(1)->isEnabled(), cuda.available);
        if (!cuda.available) {
            QCOMPARE(items->item(1)->toolTip(), QString::fromStdString(cuda.reason));
            QVERIFY(!cuda.reason.empty());
        }
        panel.setDevice(Device::Cuda);
        QCOMPARE(device->currentIndex(), 1);
    }

    void seed_example_fills_the_form() {
        ModelPanel panel;
        const SessionSpec spec = seed_example();
        panel.setConfig(spec.config);
        QCOMPARE(panel.fieldText("attention_type"), QString("linear"));
        QCOMPARE(panel.fieldText("n_layers"), QString("8"));
        QCOMPARE(panel.fieldText("n_heads"), QString("12"));
        QCOMPARE(panel.fieldText("query_dimensions"), QString("32"));
        QCOMPARE(panel.fieldText("value_dimensions"), QString("32"));
        QCOMPARE(panel.fieldText("feed_forward_dimensions"), QString("1536"));
        QVERIFY(panel.config().has_value());
        QCOMPARE(panel.config()->d_model(), 384);
        QCOMPARE(spec.batch, 10);
        QCOMPARE(spec.input.kind, InputKind::Feedback);
    }

    void zero_heads_shows_the_engine_message_next_to_the_field() {
        ModelPanel panel;
        QSignalSpy validity(&panel, &ModelPanel::validityChanged);
        QVERIFY(panel.setField("n_heads", "0"));
        QVERIFY(!panel.config().has_value());
        QVERIFY(!validity.isEmpty());
        QCOMPARE(validity.last().at(0).toBool(), false);
        QVERIFY2(panel.errorFor("n_heads").contains("n_heads"), qPrintable(panel.errorFor("n_heads")));
        QVERIFY(panel.errorFor("n_layers").isEmpty());
        QVERIFY(panel.setField("n_heads", "3"));
        QVERIFY(panel.config().has_value());
        QCOMPARE(panel.config()->n_heads, 3);
        QVERIFY(panel.errorFor("n_heads").isEmpty());
    }

    void numbers_are_parsed_and_checked_data() {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("text");
        QTest::newRow("temperature not a number") << "softmax_temp"
                                                  << "warm";
        QTest::newRow("negative temperature") << "softmax_temp"
                                              << "-1";
        QTest::newRow("negative eps") << "eps"
                                      << "-0.5";
        QTest::newRow("dropout of one") << "dropout"
                                        << "1";
        QTest::newRow("empty eps") << "eps"
                                   << "";
        QTest::newRow("zero query dimensions") << "query_dimensions"
                                               << "0";
        QTest::newRow("zero feed-forward") << "feed_forward_dimensions"
                                           << "0";
    }
    void numbers_are_parsed_and_checked() {
        QFETCH(QString, key);
        QFETCH(QString, text);
        ModelPanel panel;
        QVERIFY(panel.setField(key, text));
        QVERIFY(!panel.config().has_value());
        QVERIFY2(!panel.errorFor(key).isEmpty(), qPrintable(key));
    }

    void empty_temperature_means_the_default() {
        ModelPanel panel;
        QVERIFY(panel.setField("softmax_temp", "0.25"));
        QVERIFY(panel.config().has_value());
        QCOMPARE(*panel.config()->softmax_temp, 0.25);
        QVERIFY(panel.setField("softmax_temp", ""));
        QVERIFY(panel.config().has_value());
        QVERIFY(!panel.config()->softmax_temp.has_value());
    }

    void decoder_fields_reach_the_config() {
        ModelPanel panel;
        QVERIFY(panel.setField("kind", "decoder"));
        QVERIFY(panel.setField("self_attention_type", "linear"));
        QVERIFY(panel.setField("cross_attention_type", "full"));
        QVERIFY(panel.setField("cross_n_heads", "2"));
        QVERIFY(panel.config().has_value());
        QCOMPARE(panel.config()->kind, ModelKind::Decoder);
        QCOMPARE(panel.config()->self_attention_type, std::string("linear"));
        QCOMPARE(panel.config()->cross_n_heads, 2);
    }

    // Every weight precision the engine has is offered and reaches the config.
    void weight_precisions_reach_the_config() {
        ModelPanel panel;
        for (const char* precision : {"bf16", "q8", "f32"}) {
            QVERIFY(panel.setField("precision", precision));
            QVERIFY(panel.config().has_value());
            QCOMPARE(panel.config()->precision, std::string(precision));
        }
    }

    // Every cache precision the engine has is offered and reaches the config.
    void cache_precisions_reach_the_config() {
        ModelPanel panel;
        for (const std::string& precision : cache_precision_names()) {
            QVERIFY(panel.setField("cache_precision", QString::fromStdString(precision)));
            QVERIFY(panel.config().has_value());
            QCOMPARE(panel.config()->cache_precision, precision);
        }
    }

    void models_too_large_for_memory_are_refused() {
        ModelPanel panel;
        QVERIFY(panel.setField("n_layers", "64"));
        QVERIFY(panel.setField("n_heads", "64"));
        QVERIFY(panel.setField("value_dimensions", "1024"));
        QVERIFY(panel.setField("query_dimensions", "1024"));
        QVERIFY(!panel.config().has_value());
        QVERIFY(panel.errorFor({}).contains("GB"));
    }

    void engine_errors_go_next_to_the_field_they_name() {
        ModelPanel panel;
        panel.showEngineError(
            Error("parameter 'feature_map_dimensions' is too small for favor", "feature_map_dimensions"));
        QVERIFY(panel.errorFor("feature_map_dimensions").contains("too small"));
        panel.showEngineError(Error("something without a key"));
        QCOMPARE(panel.errorFor({}), QString("something without a key"));
    }
};

QTEST_MAIN(ModelFormTest)
#include "test_ui_model_form.moc"
