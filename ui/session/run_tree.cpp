// The tree of runs, their names and colours, and its session file form with the checks a hostile file meets.
#include "session/run_tree.h"

#include <QFileInfo>
#include <QRegularExpression>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLocale>
#include <QSaveFile>

#include <algorithm>
#include <cmath>
#include <map>

#include "stepscope/error.h"
#include "stepscope/memory_budget.h"

namespace stepscope::ui {

namespace {

constexpr int kTreeVersion = 2;
// More runs than a person compares; a file with more is refused before anything is built.
constexpr int kMaxRuns = 4096;

QString quoted(const QString& untrusted) { return QString::fromStdString(quote_text(untrusted.toStdString())); }

Error bad_run(int index, const QString& name, const QString& what) {
    return Error(QStringLiteral("session runs[%1] (%2) %3").arg(index).arg(quoted(name), what).toStdString());
}

// What a branch must share with its parent to show the parent's records as its own: everything but
// the steps taken, the interventions from the branch step on, the element shown and the device.
QJsonObject shared_part(SessionSpec spec, int64_t branch_step) {
    spec.steps = 0;
    spec.observed = 0;
    spec.device = Device::Cpu;
    std::vector<Intervention> before;
    for (const Intervention& i : spec.interventions)
        if (i.step < branch_step) before.push_back(i);
    spec.interventions = before;
    return session_to_json(spec);
}

QString input_words(const SessionSpec& spec) {
    switch (spec.input.kind) {
        case InputKind::Random: return QStringLiteral("random input %1").arg(spec.input.seed);
        case InputKind::Sinusoid: return QStringLiteral("sinusoid");
        case InputKind::Feedback: return QStringLiteral("fed back");
        case InputKind::File: return QFileInfo(spec.input.path).fileName();
        case InputKind::Tokens:
            return spec.input.pairs > 0 ? QStringLiteral("%1 pairs, seed %2").arg(spec.input.pairs).arg(spec.input.seed)
                                        : quoted(spec.input.text.left(16));
    }
    return {};
}

}  // namespace

QString run_color(int n) {
    // Tableau 10, whose hues stay apart for the first ten runs.
    static const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    return QString::fromLatin1(kColors[(n % 10 + 10) % 10]);
}

Run& RunTree::add(int id, int parent, const SessionSpec& spec) {
    auto run = std::make_unique<Run>();
    run->id = id;
    run->parent = parent;
    run->spec = spec;
    run->color = run_color(id - 1);
    next_id_ = std::max(next_id_, id + 1);
    runs_.push_back(std::move(run));
    return *runs_.back();
}

Run& RunTree::add_root(int id, const RunInfo& info, const SessionSpec& spec, std::size_t max_bytes) {
    Run& run = add(id, -1, spec);
    run.traces->start(info, max_bytes);
    return run;
}

Run& RunTree::add_branch(int id, int parent, int64_t step, const RunInfo& info, const SessionSpec& spec,
                         std::size_t max_bytes) {
    const Run* from = find(parent);
    if (!from) return add_root(id, info, spec, max_bytes);
    const TraceStore& parent_traces = *from->traces;
    Run& run = add(id, parent, spec);
    run.traces->start_branch(parent_traces, step, info, max_bytes);
    return run;
}

std::vector<int> RunTree::remove(int id) {
    std::vector<int> gone = descendants(id);
    std::reverse(gone.begin(), gone.end());
    gone.push_back(id);
    // Branches go before the run whose records they show.
    for (int g : gone)
        runs_.erase(std::remove_if(runs_.begin(), runs_.end(), [g](const auto& r) { return r->id == g; }), runs_.end());
    return gone;
}

void RunTree::clear() {
    // Branches first: each points into its parent's records.
    while (!runs_.empty()) runs_.pop_back();
}

Run* RunTree::find(int id) {
    for (auto& r : runs_)
        if (r->id == id) return r.get();
    return nullptr;
}

const Run* RunTree::find(int id) const { return const_cast<RunTree*>(this)->find(id); }

const Run* RunTree::find_by_name(const QString& name) const {
    for (const auto& r : runs_)
        if (this->name(*r) == name) return r.get();
    for (const auto& r : runs_)
        if (QStringLiteral("run %1").arg(r->id) == name || QString::number(r->id) == name) return r.get();
    return nullptr;
}

std::vector<int> RunTree::children(int id) const {
    std::vector<int> out;
    for (const auto& r : runs_)
        if (r->parent == id) out.push_back(r->id);
    return out;
}

std::vector<int> RunTree::descendants(int id) const {
    std::vector<int> out;
    for (int child : children(id)) {
        out.push_back(child);
        for (int d : descendants(child)) out.push_back(d);
    }
    return out;
}

int RunTree::owner_of(int id, int64_t step) const {
    const Run* run = find(id);
    while (run && run->parent >= 0 && run->branch_step() > step) {
        const Run* parent = find(run->parent);
        if (!parent) break;
        run = parent;
    }
    return run ? run->id : -1;
}

std::vector<int> RunTree::sharing(int owner, int64_t step) const {
    std::vector<int> out{owner};
    for (int child : children(owner)) {
        const Run* c = find(child);
        if (!c || c->branch_step() < step) continue;
        for (int s : sharing(child, step)) out.push_back(s);
    }
    return out;
}

QString RunTree::name(const Run& run) const {
    if (!run.user_name.isEmpty()) return run.user_name;
    const SessionSpec& spec = run.spec;
    QStringList parts;
    QString model = run_label(spec.config);
    if (!spec.weights_path.isEmpty())
        model += QStringLiteral(" (%1)").arg(QFileInfo(spec.weights_path).completeBaseName());
    parts << model << input_words(spec);
    if (spec.sequence_seed != 0) parts << QStringLiteral("sequence %1").arg(spec.sequence_seed);
    QStringList edits;
    for (const Intervention& i : spec.interventions) edits << describe(i);
    if (!edits.isEmpty()) parts << edits.join(QStringLiteral(", "));
    const QLocale locale = QLocale::c();
    const int64_t from = run.parent >= 0 ? run.branch_step() : run.traces->base_step();
    parts << QStringLiteral("steps %1–%2")
                 .arg(locale.toString(qlonglong(from)), locale.toString(qlonglong(run.last_step())));
    return QStringLiteral("run %1: %2").arg(run.id).arg(parts.join(QStringLiteral(", ")));
}

bool RunTree::rename(int id, const QString& name) {
    Run* run = find(id);
    const QString trimmed = name.trimmed();
    if (!run) return false;
    if (trimmed.isEmpty()) {
        run->user_name.clear();  // back to the name that says what the run is
        return true;
    }
    for (const auto& r : runs_)
        if (r->id != id && this->name(*r) == trimmed) return false;
    run->user_name = trimmed;
    run->saved_step = -1;
    return true;
}

std::size_t RunTree::bytes() const {
    std::size_t total = 0;
    for (const auto& r : runs_) total += r->traces->bytes();
    return total;
}

void RunTree::set_observed(int element) {
    for (auto& r : runs_) r->traces->set_observed(element);
}

bool RunTree::all_saved() const {
    return std::all_of(runs_.begin(), runs_.end(),
                       [](const auto& r) { return r->saved() || r->traces->own_size() == 0; });
}

void RunTree::mark_saved() {
    for (auto& r : runs_) r->saved_step = r->last_step();
}

const SessionSpec& SessionTree::viewed_spec() const {
    for (const RunEntry& r : runs)
        if (r.name == viewed) return r.spec;
    return runs.front().spec;
}

double trace_bytes_per_step(const ModelConfig& config, int batch) {
    // Every element's output and its norm, and two norms per head of each attention module, as
    // float32, for the batch and again for the shown element's slice (trace_store.h).
    const double modules = config.kind == ModelKind::Decoder ? 2.0 : 1.0;
    const double values = double(config.d_model()) + 1 + 2.0 * config.n_heads * config.n_layers * modules;
    return (double(batch) + 1) * values * sizeof(float);
}

QJsonObject tree_to_json(const SessionTree& tree) {
    QJsonArray runs;
    for (const RunEntry& r : tree.runs) {
        QJsonObject o = session_to_json(r.spec);
        o.remove(QStringLiteral("format"));
        o.remove(QStringLiteral("version"));
        o["name"] = r.name;
        o["parent"] = r.parent.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(r.parent);
        o["branch_step"] = double(r.branch_step);
        o["color"] = r.color;
        o["visible"] = r.visible;
        runs.append(o);
    }
    return QJsonObject{{"format", QStringLiteral("stepscope-session")},
                       {"version", kTreeVersion},
                       {"runs", runs},
                       {"viewed", tree.viewed}};
}

SessionTree tree_from_json(const QJsonObject& object) {
    SessionTree tree;
    if (!object.contains(QStringLiteral("runs"))) {
        // A version 1 file: one run.
        RunEntry entry;
        entry.spec = session_from_json(object);
        entry.name = QStringLiteral("run 1");
        entry.color = run_color(0);
        tree.runs.push_back(entry);
        tree.viewed = entry.name;
        return tree;
    }
    for (auto it = object.begin(); it != object.end(); ++it)
        if (!QStringList{"format", "version", "runs", "viewed"}.contains(it.key()))
            throw Error(QStringLiteral("session key %1 is unknown").arg(quoted(it.key())).toStdString());
    if (object.value("format").toString() != QLatin1String("stepscope-session"))
        throw Error("session key 'format' must be 'stepscope-session'");
    if (object.value("version").toDouble(-1) != kTreeVersion)
        throw Error("session key 'version' must be 2 for a file with runs");
    if (!object.value("runs").isArray()) throw Error("session key 'runs' must be an array");
    const QJsonArray runs = object.value("runs").toArray();
    if (runs.isEmpty()) throw Error("session key 'runs' lists no run");
    if (runs.size() > kMaxRuns)
        throw Error(QStringLiteral("session key 'runs' lists %1 runs, more than %2")
                        .arg(runs.size())
                        .arg(kMaxRuns)
                        .toStdString());
    std::map<QString, int> index_of;
    double trace_bytes = 0, own_steps = 0;
    for (int i = 0; i < runs.size(); ++i) {
        if (!runs[i].isObject()) throw Error(QStringLiteral("session runs[%1] must be an object").arg(i).toStdString());
        QJsonObject o = runs[i].toObject();
        RunEntry entry;
        if (!o.value("name").isString() || o.value("name").toString().trimmed().isEmpty())
            throw bad_run(i, QString(), QStringLiteral("needs a 'name' (a non-empty string)"));
        entry.name = o.value("name").toString();
        if (index_of.count(entry.name)) throw bad_run(i, entry.name, QStringLiteral("has the name of an earlier run"));
        const QJsonValue parent = o.value("parent");
        if (!parent.isNull() && !parent.isUndefined() && !parent.isString())
            throw bad_run(i, entry.name, QStringLiteral("key 'parent' must be a run's name or null"));
        entry.parent = parent.toString();
        const QJsonValue branch = o.value("branch_step");
        const double b = branch.isUndefined() ? 0 : branch.toDouble(-1);
        if (!branch.isUndefined() && (!branch.isDouble() || b < 0 || b > 1e9 || std::floor(b) != b))
            throw bad_run(i, entry.name, QStringLiteral("key 'branch_step' must be an integer from 0 to 1e9"));
        entry.branch_step = int64_t(b);
        if (o.contains("color")) {
            const QString color = o.value("color").toString();
            static const QRegularExpression hex(QStringLiteral("^#[0-9a-fA-F]{6}$"));
            if (!hex.match(color).hasMatch())
                throw bad_run(i, entry.name, QStringLiteral("key 'color' must be #rrggbb"));
            entry.color = color;
        } else {
            entry.color = run_color(i);
        }
        if (o.contains("visible")) {
            if (!o.value("visible").isBool())
                throw bad_run(i, entry.name, QStringLiteral("key 'visible' must be true or false"));
            entry.visible = o.value("visible").toBool();
        }
        for (const char* key : {"name", "parent", "branch_step", "color", "visible"}) o.remove(QLatin1String(key));
        try {
            entry.spec = session_from_json(o);
        } catch (const Error& e) {
            throw bad_run(i, entry.name, QString::fromStdString(e.what()));
        }
        if (!entry.spec.snapshot_path.isEmpty() && !entry.parent.isEmpty())
            throw bad_run(i, entry.name,
                          QStringLiteral("is a branch that names a snapshot: only a root continues one"));
        const int64_t last = entry.spec.steps;
        if (entry.parent.isEmpty()) {
            if (entry.branch_step != 0)
                throw bad_run(i, entry.name, QStringLiteral("is a root (parent null): its branch_step must be 0"));
        } else {
            const auto found = index_of.find(entry.parent);
            if (found == index_of.end())
                throw bad_run(i, entry.name,
                              QStringLiteral(
                                  "names parent %1, which is not a run listed before it (unknown, or a cycle)")
                                  .arg(quoted(entry.parent)));
            const RunEntry& p = tree.runs[size_t(found->second)];
            if (entry.branch_step > p.spec.steps)
                throw bad_run(i, entry.name,
                              QStringLiteral("branches at step %1, past its parent's last step %2")
                                  .arg(entry.branch_step)
                                  .arg(p.spec.steps));
            if (last < entry.branch_step)
                throw bad_run(
                    i, entry.name,
                    QStringLiteral("reaches step %1, before its branch step %2").arg(last).arg(entry.branch_step));
            if (shared_part(entry.spec, entry.branch_step) != shared_part(p.spec, entry.branch_step))
                throw bad_run(i, entry.name,
                              QStringLiteral("does not share its parent's model, input, seeds and interventions "
                                             "before step %1, so it cannot branch from it")
                                  .arg(entry.branch_step));
        }
        own_steps += double(last - entry.branch_step);
        trace_bytes += double(last - entry.branch_step) * trace_bytes_per_step(entry.spec.config, entry.spec.batch);
        index_of[entry.name] = i;
        tree.runs.push_back(std::move(entry));
    }
    // Every run's own steps are recorded when the file opens: refused here, before any model is built.
    const double limit = double(memory_limit());
    if (trace_bytes > limit)
        throw Error(QStringLiteral("session runs: their %1 steps' traces need about %2, over the memory limit of %3 "
                                   "(STEPSCOPE_MAX_MEMORY)")
                        .arg(QLocale::c().toString(own_steps, 'f', 0), QString::fromStdString(byte_text(trace_bytes)),
                             QString::fromStdString(byte_text(limit)))
                        .toStdString());
    tree.viewed = object.value("viewed").toString(tree.runs.front().name);
    if (!index_of.count(tree.viewed))
        throw Error(
            QStringLiteral("session key 'viewed' names %1, which is no run").arg(quoted(tree.viewed)).toStdString());
    return tree;
}

SessionTree tree_from_file(const QString& path) {
    const QJsonObject object = session_object_from_file(path);
    try {
        if (object.contains(QStringLiteral("runs"))) return tree_from_json(object);
        // One run, or a config: a tree of one.
        SessionTree tree;
        RunEntry entry;
        entry.spec = single_session_from_object(object);
        entry.name = QStringLiteral("run 1");
        entry.color = run_color(0);
        tree.runs.push_back(entry);
        tree.viewed = entry.name;
        return tree;
    } catch (const Error& e) {
        throw Error(QStringLiteral("%1: %2").arg(path, QString::fromStdString(e.what())).toStdString());
    }
}

void write_tree_file(const QString& path, const SessionTree& tree) {
    QSaveFile file(path);
    const QByteArray bytes = QJsonDocument(tree_to_json(tree)).toJson(QJsonDocument::Indented);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
        throw Error(QStringLiteral("%1: cannot write (%2)").arg(path, file.errorString()).toStdString());
}

}  // namespace stepscope::ui
