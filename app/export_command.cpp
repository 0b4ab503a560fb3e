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

#include "arguments.h"
#include "commands.h"
#include "headless_export.h"
#include "plots/plot_export.h"
#include "session/session_spec.h"
#include "session/step_record.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"
#include "stepscope/stepper.h"

namespace {

using namespace stepscope;

constexpr const char* kUsage =
    "usage: stepscope export (--config CONFIG.json | --session SESSION.json) [--steps N] --out DIR\n"
    "                        [--format png|svg|pdf|jpg] [--width PX] [--height PX] [--device cpu|cuda]\n"
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

int export_run(const cli::Arguments& args) {
    if (args.has("config") == args.has("session")) throw cli::UsageError{"give exactly one of --config and --session"};
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
    job.spec = ui::session_from_file(source);
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
                            {"config", "session", "steps", "out", "format", "width", "height", "device"}, {}, kUsage);
}
