// What a run's traces cost a step (issue 23): one block of floats per step, its size fixed by the
// model's shape, so a long run's records stay bounded by steps x that block.
#include <QtTest>

#include "session/session.h"
#include "session/session_spec.h"
#include "session/trace_store.h"
#include "stepscope/attention_kind.h"

using namespace stepscope;
using namespace stepscope::ui;

namespace {

// The bytes one step must take, from the model's shape alone: a word per attention module, then per
// batch element y (E), ||y||, two norms per head of every module and the delta rules' updates, plus a
// step's head.
std::size_t expected_step_bytes(const ModelConfig& c, int batch) {
    const bool decoder = c.kind == ModelKind::Decoder;
    const std::size_t modules = std::size_t(c.n_layers) * (decoder ? 2 : 1);
    const std::size_t heads =
        std::size_t(c.n_layers) * (std::size_t(c.n_heads) + (decoder ? std::size_t(c.effective_cross_n_heads()) : 0));
    const AttentionCapabilities& kind = attention_capabilities(c.self_attention());
    const bool updates = kind.write_strength || kind.forget_gate || kind.prediction_error;
    const std::size_t element = std::size_t(c.d_model()) + 1 + 2 * heads +
                                (updates ? std::size_t(c.n_layers) * kUpdates * std::size_t(c.n_heads) : 0);
    return (modules + std::size_t(batch) * element) * sizeof(float) + sizeof(StepHead);
}

// Steps `session` `count` times into `traces`, in the worker's batches of 256.
void record(Session& session, TraceStore& traces, int count) {
    std::vector<BatchRecord> batch;
    for (int t = 0; t < count; ++t) {
        batch.push_back(session.advance());
        if (batch.size() == 256 || t + 1 == count) {
            traces.append(batch);
            batch.clear();
        }
    }
}

}  // namespace

class TraceMemoryTest : public QObject {
    Q_OBJECT

private slots:
    void a_step_costs_its_block() {
        QFETCH(QString, attention);
        QFETCH(int, batch);
        QFETCH(int, steps);
        SessionSpec spec = seed_example();
        spec.config.attention_type = attention.toStdString();
        spec.batch = batch;
        auto session = Session::open(spec);
        TraceStore traces;
        traces.start(session->info());
        record(*session, traces, steps);
        QCOMPARE(traces.size(), steps);

        const std::size_t per_step = expected_step_bytes(spec.config, batch);
        QCOMPARE(traces.step_bytes(), per_step);
        // The steps' blocks and heads, and a few pointers per chunk: nothing else grows with the steps
        // of a run that observes nothing (no capacity, no maps).
        const std::size_t floor = std::size_t(steps) * per_step;
        const std::size_t chunks = (std::size_t(steps) + traces.chunk_steps() - 1) / traces.chunk_steps();
        const std::size_t ceiling = floor + chunks * 128;
        qInfo("%s, batch %d: %zu bytes a step, %zu bytes held over %d steps", qPrintable(attention), batch, per_step,
              traces.bytes(), steps);
        QVERIFY2(traces.bytes() >= floor && traces.bytes() <= ceiling,
                 qPrintable(QStringLiteral("%1 bytes, expected %2 to %3").arg(traces.bytes()).arg(floor).arg(ceiling)));

        // What is kept reads back as recorded: every element's output and norms of the last step.
        const BatchRecord last = traces.batch_records().back();
        QCOMPARE(last.batch, batch);
        QCOMPARE(int(last.outputs.size()), batch * int(spec.config.d_model()));
        for (int n = 0; n < batch; ++n) {
            const StepRecord shown = traces.records().element(std::size_t(steps - 1), n);
            QCOMPARE(shown.step, int64_t(steps));
            QVERIFY(std::equal(shown.output.begin(), shown.output.end(),
                               last.outputs.begin() + long(n) * spec.config.d_model()));
            QCOMPARE(shown.layers.size(), std::size_t(spec.config.n_layers));
            QCOMPARE(shown.layers[0].self.first.size(), std::size_t(spec.config.n_heads));
            QCOMPARE(shown.layers[0].self.first[0], last.layers[0].self.first[size_t(n) * spec.config.n_heads]);
        }
    }

    void a_step_costs_its_block_data() {
        QTest::addColumn<QString>("attention");
        QTest::addColumn<int>("batch");
        QTest::addColumn<int>("steps");
        // The seed example at batch 1: 2,380 bytes a step.
        QTest::newRow("linear, batch 1") << QStringLiteral("linear") << 1 << 3000;
        QTest::newRow("linear, batch 10") << QStringLiteral("linear") << 10 << 600;
        // The delta rule also keeps its write strengths and prediction errors.
        QTest::newRow("delta, batch 3") << QStringLiteral("delta") << 3 << 300;
    }
};

QTEST_GUILESS_MAIN(TraceMemoryTest)
#include "test_session_trace_memory.moc"
