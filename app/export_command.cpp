// stepscope export: run a config or session headless and write plot images, traces CSV, snapshot and session.
#include <QApplication>
#include <QDir>
#include <QFileInfo>
#include <QStorageInfo>
#include <QtGlobal>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "arguments.h"
#include "commands.h"
#include "headless_export.h"
#include "plots/plot_export.h"
#include "session/run_tree.h"
#include "session/session_spec.h"
#include "session/step_record.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"
#include "stepscope/stepper.h"

namespace {

using namespace stepscope;

constexpr const char* kUsage =
    "usage: stepscope export (--config CONFIG.json | --session SESSION.json [--run NAME]) [--steps N] --out DIR\n"
    "                        [--format png|svg|pdf|jpg] [--width PX] [--height PX] [--device cpu|cuda]\n"
    "       stepscope export --session SESSION.json --list-runs\n"
    "  --run NAME picks one run of a session's tree (its name, or \"run N\"): its whole history is\n"
    "  written, a branch's parent's steps before its branch step included. Without it: the run the\n"
    "  session viewed. --list-runs prints the tree of runs and exits.\n"
    "  Steps the model N times (a session's own steps when --steps is absent) without a display and\n"
    "  writes into DIR: outputs, state_norms, attention and performance images, traces.csv (one row\n"
    "  per step and batch element), snapshot.safetensors (the final state) and session.json (to\n"
    "  reproduce the run).\n"
    "  Images above 1200x800 are larger figures, not smaller text: 4000x3000 draws as 1200x900 at 3.3x.\n"
    "  For linear attention the attention image holds its implicit weights over the last 256 steps,\n"
    "  and spectrum and capacity images the singular values of layer 0's S at the last step and its\n"
    "  effective rank over every step.\n"
    "  CONFIG.json is a builder config ({\"attention_type\": \"linear\", ...}) or a session file.\n";

// Without a display Qt warns about its environment (XDG_RUNTIME_DIR not set, fonts): not the
// command's business, and an error must stay one line. Only Qt's own errors are printed.
void headless_messages(QtMsgType type, const QMessageLogContext&, const QString& message) {
    if (type == QtCriticalMsg || type == QtFatalMsg)
        std::fprintf(stderr, "stepscope export: %s\n", qPrintable(message.simplified()));
}

// The run's state with the snapshot's copy, and the records the plots keep: export keeps no
// checkpoints, and its traces stream to disk, so at most the plotted steps, the heatmap's window and
// one chunk of records (every batch element) are held, however long the run. A weights file's model
// is checked as it loads.
//
// A weights file's model is the one the session's config describes (Session::open refuses another),
// so the estimate holds for it too. The stepping's work and the traces' bytes on disk are bounded
// as well: a session's "steps" is untrusted, and 1e9 steps would write terabytes for days.
void require_export_fits(const ui::SessionSpec& spec, int64_t steps, const QString& out) {
    const ModelConfig& config = spec.config;
    validate(config);
    RunShape run;
    run.batch = spec.batch;
    run.steps = steps;
    run.memory_length = spec.memory.length;
    run.state_copies = 3;
    const double record_bytes =
        sizeof(float) * double(spec.batch) * (double(config.d_model()) + 4.0 * config.n_layers * config.n_heads) + 256;
    const auto held = int64_t(ui::kHeadlessPlottedSteps + ui::kAttentionWindow + ui::kHeadlessChunk);
    run.kept_bytes = record_bytes * double(std::min(steps, held));
    require_memory(estimate_model_bytes(config) + estimate_run_bytes(config, run),
                   "exporting " + std::to_string(steps) + " steps");
    require_work(estimate_step_work(config, run), "exporting " + std::to_string(steps) + " steps");
    // traces.csv: a row per step and batch element, at least 8 characters a value.
    const double modules = config.kind == ModelKind::Decoder ? 2 : 1;
    const double trace_bytes = double(steps) * double(spec.batch) * 8.0 *
                               (double(config.d_model()) + 2.0 * config.n_layers * config.n_heads * modules + 8);
    QString existing = QFileInfo(out).absoluteFilePath();
    while (!QFileInfo::exists(existing) && QFileInfo(existing).dir().absolutePath() != existing)
        existing = QFileInfo(existing).dir().absolutePath();
    const QStorageInfo disk(existing);
    if (disk.isValid() && disk.bytesAvailable() >= 0 && trace_bytes > double(disk.bytesAvailable()))
        throw Error("refused: exporting " + std::to_string(steps) + " steps writes about " + byte_text(trace_bytes) +
                    " of traces, more than the " + byte_text(double(disk.bytesAvailable())) + " free on " +
                    quote_text(QDir::toNativeSeparators(existing).toStdString()));
}

// SIGINT or SIGTERM during an export: the loop stops between steps and unwinds, and the staging
// folder goes with it; then the signal's own default ends the process.
volatile std::sig_atomic_t interrupted_by = 0;

void on_interrupt(int signal) { interrupted_by = signal; }

// The entry of a session's tree named `name`, or by its leading "run N".
const ui::RunEntry& find_run(const ui::SessionTree& tree, const QString& name) {
    for (const ui::RunEntry& r : tree.runs)
        if (r.name == name) return r;
    for (const ui::RunEntry& r : tree.runs)
        if (r.name.section(':', 0, 0) == name) return r;
    QStringList names;
    for (const ui::RunEntry& r : tree.runs) names << r.name.section(':', 0, 0);
    throw cli::UsageError{"the session has no run " + quote_text(name.toStdString()) +
                          " (it has: " + names.join(", ").toStdString() + "; see --list-runs)"};
}

// One line per run, a branch indented under its parent with its branch step.
void list_runs(const ui::SessionTree& tree) {
    std::map<QString, int> depth;
    for (const ui::RunEntry& r : tree.runs) {
        const int d = r.parent.isEmpty() ? 0 : depth[r.parent] + 1;
        depth[r.name] = d;
        const QString where =
            r.parent.isEmpty()
                ? QStringLiteral("root")
                : QStringLiteral("branch of %1 at step %2").arg(r.parent.section(':', 0, 0)).arg(r.branch_step);
        std::printf("%s%s  [%s, steps %lld to %lld%s]\n", QString(2 * d, ' ').toUtf8().constData(),
                    r.name.toUtf8().constData(), where.toUtf8().constData(), static_cast<long long>(r.branch_step),
                    static_cast<long long>(r.spec.steps), r.name == tree.viewed ? ", viewed" : "");
    }
}

int export_run(const cli::Arguments& args) {
    if (args.has("config") == args.has("session")) throw cli::UsageError{"give exactly one of --config and --session"};
    if ((args.has("run") || args.has("list-runs")) && !args.has("session"))
        throw cli::UsageError{"--run and --list-runs read a --session"};
    if (args.has("list-runs")) {
        list_runs(ui::tree_from_file(QString::fromStdString(args.text("session"))));
        return 0;
    }
    const std::string format = args.text("format", "png");
    if (!ui::image_format_suffixes().contains(QString::fromStdString(format)))
        throw cli::UsageError{"option --format must be " + ui::image_format_choices().toStdString() + ", got " +
                              quote_text(format)};
    const QString out = QString::fromStdString(args.text("out"));
    const long width = args.integer("width", 1200, 16, ui::kMaxImageSide);
    const long height = args.integer("height", 800, 16, ui::kMaxImageSide);
    const long requested = args.integer("steps", -1, 0, 10000000);
    const Device device = args.device();

    // The plots are widgets: without a display they render on Qt's offscreen platform.
    if (std::getenv("DISPLAY") == nullptr && std::getenv("WAYLAND_DISPLAY") == nullptr)
        setenv("QT_QPA_PLATFORM", "offscreen", 0);
    qInstallMessageHandler(headless_messages);
    static int app_argc = 1;
    static char app_name[] = "stepscope";
    static char* app_argv[] = {app_name, nullptr};
    QApplication app(app_argc, app_argv);

    ui::HeadlessExport job;
    const QString source = QString::fromStdString(args.has("config") ? args.text("config") : args.text("session"));
    if (args.has("session")) {
        const ui::SessionTree tree = ui::tree_from_file(source);
        job.spec = args.has("run") ? find_run(tree, QString::fromStdString(args.text("run"))).spec : tree.viewed_spec();
    } else {
        job.spec = ui::session_from_file(source);
    }
    if (requested < 0 && args.has("config")) throw cli::UsageError{"missing option --steps"};
    job.steps = requested >= 0 ? requested : job.spec.steps;
    require_export_fits(job.spec, job.steps, out);
    if (args.has("device")) job.spec.device = device;
    job.directory = out;
    job.format = QString::fromStdString(format);
    job.width = int(width);
    job.height = int(height);
    job.interrupted = [] { return interrupted_by != 0; };
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    QStringList written;
    try {
        written = ui::run_headless_export(job);
    } catch (const Error&) {
        if (interrupted_by == 0) throw;
        // The staging folder is gone: end as the signal would have ended the process.
        std::signal(interrupted_by, SIG_DFL);
        std::raise(interrupted_by);
        throw;
    }
    std::printf("stepped %lld times; wrote:\n", static_cast<long long>(job.steps));
    for (const QString& path : written) std::printf("  %s\n", qPrintable(path));
    return 0;
}

}  // namespace

int run_export(int argc, char** argv) {
    return cli::run_guarded("export", export_run, argc, argv,
                            {"config", "session", "run", "steps", "out", "format", "width", "height", "device"},
                            {"list-runs"}, kUsage);
}
