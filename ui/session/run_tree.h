// Every run of a session as a tree: roots (Apply, Reset, Open ...) and branches that share their parent's
// records up to the step they left it. No run is dropped unless the user deletes it. Qt Core only.
//
//   RunTree tree;
//   int root = tree.add_root(7, info, spec, budget);     // a new model or sequence
//   int b = tree.add_branch(8, root, 50, info, spec, budget); // steps 1..50 are root's, shown as b's own
//   tree.find(b)->traces->append(records);               // b's own steps from 51 on
#pragma once

#include <QJsonObject>
#include <QString>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "session/session_spec.h"
#include "session/trace_store.h"

namespace stepscope::ui {

struct Run {
    int id = 0;
    int parent = -1;          // the run it branched from; -1 for a root
    QString user_name;        // set by the user (or a session file); empty: the name says what the run is
    QString color;            // "#rrggbb"
    bool visible = true;      // drawn on the time plots beside the viewed run
    int64_t saved_step = -1;  // the last step a session file holds of it; -1: none (or renamed since)
    SessionSpec spec;         // what reproduces the run from its start: model, input, seeds, interventions
    // Its records: the parent's up to branch_step() shared, then its own. Held by pointer so that
    // branches may point into it while the tree grows.
    std::unique_ptr<TraceStore> traces = std::make_unique<TraceStore>();

    int64_t branch_step() const { return traces->branch_step(); }
    int64_t last_step() const { return traces->last_step(); }
    // A session file holds the run as it stands.
    bool saved() const { return saved_step == last_step(); }
};

class RunTree {
public:
    // A run of its own (a new model, a new sequence, a snapshot), identified by `id` (unique, > 0).
    Run& add_root(int id, const RunInfo& info, const SessionSpec& spec, std::size_t max_bytes);
    // A branch of run `parent` at `step`: it shares the parent's records up to that step.
    Run& add_branch(int id, int parent, int64_t step, const RunInfo& info, const SessionSpec& spec,
                    std::size_t max_bytes);
    // Removes `id` and its branches (they show its records); returns the ids removed, branches first.
    std::vector<int> remove(int id);
    void clear();

    Run* find(int id);
    const Run* find(int id) const;
    // By name, or by its leading "run N" (what the scripted flags and `export --run` take); null when none.
    const Run* find_by_name(const QString& name) const;
    // In the order they were added: a parent before its branches.
    const std::vector<std::unique_ptr<Run>>& runs() const { return runs_; }
    bool empty() const { return runs_.empty(); }
    int size() const { return int(runs_.size()); }
    std::vector<int> children(int id) const;
    // Every run below `id` (branches of branches too).
    std::vector<int> descendants(int id) const;

    // The run a branch of `id` at `step` leaves: `id` itself, or the ancestor whose records `id` shows
    // there (the deepest whose branch step is at most `step`, so that interventions at one step stack).
    int owner_of(int id, int64_t step) const;
    // The runs whose records up to `step` are those of `owner` (the owner and the branches that left
    // it, or left them, after `step`): any of them can be rewound to `step` to branch from `owner` there.
    std::vector<int> sharing(int owner, int64_t step) const;

    // The name a run shows: its user's name, or "run N: model, input, interventions, steps A–B".
    QString name(const Run& run) const;
    // Renames `id`; false (the name kept) for an empty name or one another run has.
    bool rename(int id, const QString& name);
    // The records every run holds itself: shared records count once.
    std::size_t bytes() const;
    // Shows batch element `element` in every run.
    void set_observed(int element);
    bool all_saved() const;
    void mark_saved();
    int next_id() const { return next_id_; }

private:
    Run& add(int id, int parent, const SessionSpec& spec);

    std::vector<std::unique_ptr<Run>> runs_;
    int next_id_ = 1;
};

// The colour of the n-th run: distinct hues, readable on white.
QString run_color(int n);

// One run as the session file lists it (the "runs" array): its session with the tree's keys.
struct RunEntry {
    QString name;
    QString parent;  // empty: a root
    int64_t branch_step = 0;
    QString color;
    bool visible = true;
    SessionSpec spec;  // spec.steps: the last step it reached, from its start
};

// A session file's whole tree: its runs, parents first, and the one the window shows.
struct SessionTree {
    std::vector<RunEntry> runs;
    QString viewed;
    // The viewed run's session (the first run when it names none).
    const SessionSpec& viewed_spec() const;
};

// The tree as a session file's JSON: {"format", "version": 2, "runs": [...], "viewed": NAME}.
QJsonObject tree_to_json(const SessionTree& tree);
// Reads a session file's object: a tree (version 2, "runs") or one run (version 1). Refuses, naming
// the run and key, a parent not listed before its branch (unknown, or a cycle), a branch step past
// the parent's steps, a branch that does not share its parent's model, input and seeds, and runs
// whose traces alone would pass the memory limit. Throws stepscope::Error.
SessionTree tree_from_json(const QJsonObject& object);
// A session file: a tree, a single run or a plain builder config.
SessionTree tree_from_file(const QString& path);
// Written atomically.
void write_tree_file(const QString& path, const SessionTree& tree);
// The bytes a step's traces take at least for `config` and `batch` (every element's norms and
// outputs, and the shown element's slice): what a session's runs are checked against before stepping.
double trace_bytes_per_step(const ModelConfig& config, int batch);

}  // namespace stepscope::ui
