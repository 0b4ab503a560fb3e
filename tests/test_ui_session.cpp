// Sessions: JSON round trip, strict reading, and a saved session that reopens to exactly the same run.
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QtTest>

#include "session_io.h"
#include "stepscope/error.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

class SessionTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void json_round_trip() {
        SessionSpec spec = small_spec("linear", InputKind::Sinusoid, "favor");
        spec.config.kind = ModelKind::Decoder;
        spec.config.self_attention_type = "causal-linear";
        spec.config.cross_attention_type = "linear";
        spec.config.softmax_temp = 0.5;
        spec.input.period = 12.5;
        spec.memory.kind = MemoryKind::Random;
        spec.memory.length = 9;
        spec.memory.seed = 99;
        spec.weights_seed = 123456789;
        spec.steps = 42;
        spec.device = Device::Cuda;
        const SessionSpec back = session_from_json(session_to_json(spec));
        QVERIFY(back.config == spec.config);
        QCOMPARE(back.weights_seed, spec.weights_seed);
        QCOMPARE(back.input.kind, InputKind::Sinusoid);
        QCOMPARE(back.input.period, 12.5);
        QCOMPARE(back.input.seed, spec.input.seed);
        QCOMPARE(back.memory.length, 9);
        QCOMPARE(back.memory.seed, uint64_t(99));
        QCOMPARE(back.batch, spec.batch);
        QCOMPARE(back.sequence_seed, spec.sequence_seed);
        QCOMPARE(back.observed, spec.observed);
        QCOMPARE(back.steps, int64_t(42));
        QCOMPARE(back.device, Device::Cuda);
    }

    void strict_reading_data() {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("named");
        QTest::newRow("unknown key") << R"({"config": {}, "colour": 1})"
                                     << "colour";
        QTest::newRow("no config") << R"({"batch": 2})"
                                   << "config";
        QTest::newRow("bad batch") << R"({"config": {}, "batch": -3})"
                                   << "batch";
        QTest::newRow("bad source") << R"({"config": {}, "input": {"source": "radio"}})"
                                    << "input.source";
        QTest::newRow("bad config value") << R"({"config": {"n_heads": 0}})"
                                          << "n_heads";
        QTest::newRow("seed the form cannot show") << R"({"config": {}, "weights": {"seed": 4294967296}})"
                                                   << "weights.seed";
        QTest::newRow("batch the form cannot show") << R"({"config": {}, "batch": 2048})"
                                                    << "batch";
        QTest::newRow("unknown device") << R"({"config": {}, "device": "tpu"})"
                                        << "'device' is 'tpu'";
        QTest::newRow("file without path") << R"({"config": {}, "input": {"source": "file"}})"
                                           << "input.path";
    }
    void strict_reading() {
        QFETCH(QString, json);
        QFETCH(QString, named);
        try {
            session_from_json(QJsonDocument::fromJson(json.toUtf8()).object());
            QFAIL("accepted a bad session");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains(named), e.what());
        }
    }

    void a_saved_session_reopens_to_the_same_run() {
        const QString path = dir_.filePath("session.json");
        SessionController first;
        first.open(small_spec("full", InputKind::Feedback));
        QVERIFY(wait_idle(first));
        first.step(7);
        QVERIFY(wait_idle(first));
        first.reset();  // a new sequence seed is part of the session
        QVERIFY(wait_idle(first));
        first.step(6);
        QVERIFY(wait_idle(first));
        SessionIO io(nullptr, &first);
        QSignalSpy done(&io, &SessionIO::done);
        io.saveSession(path);
        QCOMPARE(done.size(), 1);

        SessionController second;
        SessionIO reader(nullptr, &second);
        reader.openSession(path);
        QVERIFY(wait_idle(second));
        QCOMPARE(second.lastStep(), qint64(6));
        QCOMPARE(second.spec().sequence_seed, first.spec().sequence_seed);
        QVERIFY(second.stateAt(6).state == first.stateAt(6).state);
        QCOMPARE(second.traces().size(), 6);
        for (int i = 0; i < 6; ++i)
            QVERIFY(second.traces().records()[size_t(i)].output == first.traces().records()[size_t(i)].output);
    }

    void a_plain_builder_config_opens_with_session_defaults() {
        const QString path = dir_.filePath("config.json");
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(R"({"attention_type": "linear", "n_layers": 1, "n_heads": 2, "query_dimensions": 4,
                      "value_dimensions": 4, "feed_forward_dimensions": 8, "softmax_temp": null})");
        file.close();
        const SessionSpec spec = session_from_file(path);
        QCOMPARE(spec.config.n_heads, 2);
        QCOMPARE(spec.config.attention_type, std::string("linear"));
        QVERIFY(!spec.config.softmax_temp.has_value());
        QCOMPARE(spec.steps, int64_t(0));
    }

private:
    QTemporaryDir dir_;
};

QTEST_MAIN(SessionTest)
#include "test_ui_session.moc"
