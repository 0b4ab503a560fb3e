// A Session as a RunHistory: its checkpoints and its steps, replayed for views recomputed after the fact.
#include <algorithm>

#include "session/session.h"

namespace stepscope::ui {

Checkpoint Session::checkpoint_before(int64_t step) const {
    if (step >= current_step()) return {stepper_->state(), last_output_, last_tokens_};
    return checkpoints_.nearest(std::max(step, base_step()));
}

void Session::step_on(Checkpoint& c, StepObserver* observer, Observation* observation) const {
    if (edits_state_at(c.state.step))
        edit_state(c.state, [this, &c] { return original_->state_at(c.state.step).state; });
    std::vector<TokenStep> fed;
    RowMatrix x, y;
    next_input(c.state.step, c.last_output, c.last_tokens, x, fed);
    const StepOptions options{observer, observation, ablation_.empty() ? nullptr : &ablation_};
    if (const Memory* memory = input_.memory()) model_->step(x, *memory, c.state, y, options);
    else model_->step(x, c.state, y, options);
    c.last_output = std::move(y);
    c.last_tokens = std::move(fed);
}

bool Session::replays_in_blocks(int64_t from, int64_t to) const {
    const InputKind kind = spec_.input.kind;
    if (input_.memory() || kind == InputKind::Feedback || kind == InputKind::Tokens) return false;
    return std::none_of(spec_.interventions.begin(), spec_.interventions.end(), [&](const Intervention& i) {
        const bool edits = i.kind != InterventionKind::AblateHead;  // an ablation applies inside a block too
        return edits && i.step >= from && i.step < to;
    });
}

void Session::step_on_to(Checkpoint& c, int64_t step, const std::function<bool(int64_t)>& stepped) const {
    const int64_t from = c.state.step;
    if (!replays_in_blocks(from, step)) {
        while (c.state.step < step) {
            step_on(c, nullptr, nullptr);
            if (stepped && !stepped(c.state.step - from)) return;
        }
        return;
    }
    const int batch = spec_.batch, width = model_->config().d_model();
    const int most = model_->block_steps(batch);
    const StepOptions options{nullptr, nullptr, ablation_.empty() ? nullptr : &ablation_};
    RowMatrix x, xs, ys;
    while (c.state.step < step) {
        const int steps = int(std::min<int64_t>(most, step - c.state.step));
        // xs (T*N, E), rows (t, n): the known inputs of the block's steps.
        xs.resize(long(steps) * batch, width);
        for (int t = 0; t < steps; ++t) {
            input_.input(c.state.step + t, c.last_output, x);
            xs.middleRows(long(t) * batch, batch) = x;
        }
        model_->step_block(xs, steps, c.state, ys, options);
        c.last_output = ys.bottomRows(batch);
        if (stepped && !stepped(c.state.step - from)) return;
    }
}

std::vector<Retrieval> Session::read_back_at(const Checkpoint& c, int element) const {
    const auto& head = input_.token_model();
    if (!head || head->task_name() != "recall" || element < 0 || element >= spec_.batch) return {};
    // Every element's pairs, as the step that read them back live did: the same batch, the same numbers.
    std::vector<std::vector<std::pair<int64_t, int64_t>>> pairs;
    for (int n = 0; n < spec_.batch; ++n) pairs.push_back(input_.stored_pairs(c.state.step, n));
    if (pairs[size_t(element)].empty()) return {};
    return read_back(*head, c.state, pairs)[size_t(element)];
}

}  // namespace stepscope::ui
