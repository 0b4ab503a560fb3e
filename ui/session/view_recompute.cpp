// Re-stepping a run's history from a checkpoint with observation on, for one view's layer, element and steps.
#include "session/view_recompute.h"

#include <QCoreApplication>

#include <algorithm>

#include "session/session.h"
#include "session/step_probe.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"

namespace stepscope::ui {

namespace {

// Keeps of `record` only what the request asked for: its layer's rows and capacity.
void keep_requested(BatchRecord& record, const ViewRequest& request) {
    auto other = [&](const auto& item) { return item.layer != request.layer || item.role != request.role; };
    record.attention.erase(std::remove_if(record.attention.begin(), record.attention.end(), other),
                           record.attention.end());
    record.capacity.erase(std::remove_if(record.capacity.begin(), record.capacity.end(), other), record.capacity.end());
    if (!request.attention) record.attention.clear();
    record.layers.clear();
    record.updates.clear();
}

// What the recomputation holds at its peak: the model, the run's state and the working copy, a step's
// observation (a layer's key history), and the records it returns.
double estimate_bytes(const RunHistory& history, const ViewRequest& request) {
    const ModelConfig& config = history.history_model().config();
    RunShape run;
    run.batch = history.history_batch();
    run.steps = request.last;
    run.state_copies = 3;
    const double heads = std::max(config.n_heads, config.effective_cross_n_heads());
    const double width = std::max(config.query_dimensions, config.value_dimensions);
    // Softmax rows come for every element, implicit rows for the observed one, each over the window of keys.
    const double rows = request.attention ? heads * kAttentionWindow * double(run.batch) : 0;
    const double capacity = heads * (width + 4);
    const double per_step =
        sizeof(BatchRecord) + sizeof(AttentionRows) + sizeof(CapacityRecord) + (rows + capacity) * sizeof(float);
    const double history_bytes = double(ObservationOptions().history_bytes);
    return estimate_model_bytes(config) + estimate_run_bytes(config, run) + history_bytes +
           double(request.steps()) * per_step;
}

}  // namespace

QString ViewRequest::describe() const {
    const QString steps = first == last
                              ? QCoreApplication::translate("ViewRequest", "step %1").arg(first)
                              : QCoreApplication::translate("ViewRequest", "steps %1 to %2").arg(first).arg(last);
    const QString where =
        layer < 0 ? QString()
                  : QCoreApplication::translate("ViewRequest", " of layer %1 (%2)")
                        .arg(layer)
                        .arg(role == AttentionRole::Cross ? QCoreApplication::translate("ViewRequest", "cross")
                                                          : QCoreApplication::translate("ViewRequest", "self"));
    return QCoreApplication::translate("ViewRequest", "%1%2, batch element %3, %4")
        .arg(what.isEmpty() ? QCoreApplication::translate("ViewRequest", "observations") : what, where)
        .arg(element)
        .arg(steps);
}

std::vector<BatchRecord> recompute_views(const RunHistory& history, const ViewRequest& request,
                                         const RecomputeProgress& progress, const std::function<bool()>& cancelled) {
    const int64_t first_step = history.history_first_step(), last_step = history.history_last_step();
    if (request.empty()) return {};
    if (request.first <= first_step || request.last > last_step)
        throw Error("steps " + std::to_string(request.first) + " to " + std::to_string(request.last) +
                    " are outside the run (" + std::to_string(first_step + 1) + " to " + std::to_string(last_step) +
                    ")");
    const int batch = history.history_batch(), layers = history.history_model().config().n_layers;
    if (request.element < 0 || request.element >= batch)
        throw Error("batch element " + std::to_string(request.element) + " is outside 0.." + std::to_string(batch - 1));
    if (request.layer >= layers)
        throw Error("layer " + std::to_string(request.layer) + " is outside 0.." + std::to_string(layers - 1));

    require_memory(estimate_bytes(history, request), "computing the " + request.describe().toStdString());

    // The observed steps begin after `start`: the map's keys from there on are the history's own.
    const int64_t start = request.first - 1;
    Checkpoint c = history.checkpoint_before(start);
    const int64_t from = c.state.step, total = request.last - from;
    auto report = [&](int64_t done) {
        if (progress) progress(done, total);
        return !(cancelled && cancelled());
    };
    history.step_on_to(c, start, [&](int64_t done) { return report(done); });
    if (cancelled && cancelled()) throw RunCancelled{};

    // A layer observed with neither maps nor spectrum still reports its capacity (denominators, row entropy).
    std::unique_ptr<Observation> observation;
    if (request.layer >= 0) {
        ObservationOptions what;
        what.layers = {request.layer};
        what.attention = request.attention;
        what.spectrum = request.spectrum;
        what.batch_element = request.element;
        what.attention_keys = kAttentionWindow;
        observation = std::make_unique<Observation>(what);
    }
    std::vector<BatchRecord> out;
    out.reserve(size_t(request.steps()));
    while (c.state.step < request.last) {
        BatchRecord record;
        StepProbe probe(record, batch, layers, request.element);
        history.step_on(c, &probe, observation.get());
        record.step = c.state.step;
        if (request.read_back) record.retrieval = history.read_back_at(c, request.element);
        keep_requested(record, request);
        out.push_back(std::move(record));
        if (!report(c.state.step - from)) throw RunCancelled{};
    }
    return out;
}

}  // namespace stepscope::ui
