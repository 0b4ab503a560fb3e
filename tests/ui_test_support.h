// Helpers of the GUI tests: small sessions that step fast, waiting for the engine thread, a fresh reference run.
#pragma once

#include <QtTest>

#include <string>

#include "session/session.h"
#include "session/session_spec.h"
#include "session/trace_store.h"
#include "session/session_controller.h"

namespace stepscope::ui::testing {

// 2 layers, 2 heads, 8/8 dimensions: a model whose steps take microseconds.
inline SessionSpec small_spec(const std::string& attention = "full", InputKind input = InputKind::Random,
                              const std::string& feature_map = "elu") {
    SessionSpec spec;
    spec.config.kind = ModelKind::Encoder;
    spec.config.attention_type = attention;
    spec.config.feature_map = feature_map;
    spec.config.n_layers = 2;
    spec.config.n_heads = 2;
    spec.config.query_dimensions = 8;
    spec.config.value_dimensions = 8;
    spec.config.feed_forward_dimensions = 32;
    spec.weights_seed = 7;
    spec.input.kind = input;
    spec.input.seed = 11;
    spec.batch = 3;
    spec.sequence_seed = 5;
    spec.observed = 1;
    return spec;
}

// Waits until every command posted to the engine thread has finished and a run is open.
inline bool wait_idle(const SessionController& run, int timeout_ms = 120000) {
    return QTest::qWaitFor([&] { return !run.busy() && run.hasRun(); }, timeout_ms);
}

// The same run computed directly, without the worker thread, scrubbing or checkpoints; `records`
// receives the element the run shows.
inline Checkpoint fresh_run(const SessionController& run, int64_t steps, std::vector<StepRecord>* records = nullptr) {
    SessionSpec spec = run.spec();
    spec.steps = 0;
    Session session(run.traces().info().model, spec);
    for (int64_t t = 0; t < steps; ++t) {
        const BatchRecord r = session.advance();
        if (records) records->push_back(r.element(run.traces().info().observed));
    }
    return session.state_at(session.current_step());
}

// A run of `steps` records of `spec`, without the worker thread, observing `what` from the first step.
inline TraceStore record(const SessionSpec& spec, int steps, const ObservationOptions& what = {}) {
    auto session = Session::open(spec);
    session->set_observation(what);
    TraceStore store;
    store.start(session->info());
    std::vector<BatchRecord> records;
    for (int t = 0; t < steps; ++t) records.push_back(session->advance());
    store.append(records);
    return store;
}

}  // namespace stepscope::ui::testing
