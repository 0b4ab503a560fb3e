// Hostile sessions, CSV inputs and exports (issue 22): refused in one line with exit code 2, within
// the memory limit, in seconds; an export replaces a folder's earlier set and cleans up after itself.
#include <QtTest>

#include <QDir>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>

#include <signal.h>
#include <unistd.h>

#include "gui_script.h"
#include "session/input_source.h"
#include "session/session.h"
#include "session/session_spec.h"
#include "session/trace_store.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"
#include "stepscope/token_model.h"
#include "stepscope/token_tasks.h"
#include "cli_test_support.h"
#include "test_support.h"
#include "ui_test_support.h"

using namespace stepscope;
using stepscope::testing::demo_path;
using stepscope::testing::error_of;
using stepscope::testing::LimitScope;

namespace {

using CliResult = stepscope::testing::MeasuredRun;

// The binary with `limit` as STEPSCOPE_MAX_MEMORY (none when empty) on the offscreen platform.
CliResult run_cli(const QStringList& arguments, const QByteArray& limit, const QString& scratch) {
    std::unique_ptr<LimitScope> scope;
    if (!limit.isEmpty()) scope = std::make_unique<LimitScope>(limit);
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QList<QByteArray> words;
    for (const QString& a : arguments) words.push_back(a.toLocal8Bit());
    return stepscope::testing::run_measured(words, scratch);
}

// Exit code 2 and exactly one line on stderr holding `clue`, without the terminal's escape character.
#define VERIFY_REFUSED_IN_ONE_LINE(result, clue)                                                 \
    do {                                                                                         \
        const CliResult& r_ = (result);                                                          \
        QVERIFY2(r_.exit_code == 2, qPrintable(QString::number(r_.exit_code) + r_.stderr_text)); \
        QVERIFY2(r_.stderr_text.endsWith('\n') && r_.stderr_text.count('\n') == 1,               \
                 qPrintable("not one line: " + r_.stderr_text.left(500)));                       \
        QVERIFY2(r_.stderr_text.contains(clue), qPrintable(r_.stderr_text.left(500)));           \
        QVERIFY2(r_.stderr_text.size() < 600 && !r_.stderr_text.contains(QChar(0x1b)),           \
                 qPrintable(r_.stderr_text.left(500)));                                          \
    } while (0)

void write_file(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    QCOMPARE(file.write(bytes), bytes.size());
}

void write_json(const QString& path, const QJsonObject& object) {
    write_file(path, QJsonDocument(object).toJson(QJsonDocument::Compact));
}

// The recall demo's session with a drawn instance.
QJsonObject recall_session(const QString& weights, int steps = 4) {
    const auto model = TokenModel::load(weights.toStdString());
    return QJsonObject{
        {"format", "stepscope-session"},
        {"version", 1},
        {"config",
         QJsonDocument::fromJson(QByteArray::fromStdString(config_to_json(model->transformer().config()))).object()},
        {"weights", QJsonObject{{"path", weights}}},
        {"input", QJsonObject{{"source", "tokens"}, {"pairs", 8}, {"seed", 1}}},
        {"batch", 1},
        {"steps", steps}};
}

QJsonObject small_session(const std::string& attention, int steps) {
    ui::SessionSpec spec = ui::testing::small_spec(attention);
    spec.steps = steps;
    return ui::session_to_json(spec);
}

}  // namespace

class HostileSessionTest : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString path(const QString& name) const { return dir_.filePath(name); }

private slots:
    // --- 1: drawn recall instances are counted --------------------------------------------------

    void a_batch_of_recall_instances_over_the_limit_is_refused() {
        SafetensorsFile file = read_safetensors(demo_path("recall_linear.safetensors"));
        file.metadata["task"] = R"({"name": "recall", "keys": 128, "values": 128, "null": 256, "queries": 1000000,
                                    "metric": "accuracy"})";
        const QString weights = path("many_queries.safetensors");
        write_safetensors(weights.toStdString(), file);
        ui::SessionSpec spec = ui::session_from_json(recall_session(weights));
        spec.batch = 1024;
        const auto model = TokenModel::load(weights.toStdString());
        LimitScope limit("1G");
        QElapsedTimer timer;
        timer.start();
        const QString message = error_of([&] { ui::InputSource source(spec, spec.config, model); });
        QVERIFY2(message.startsWith("refused: 1024 recall instances") && message.contains("STEPSCOPE_MAX_MEMORY"),
                 qPrintable(message));
        QVERIFY(timer.elapsed() < 3000);
    }

    // 1e12 queries grew until the process was killed; keys + values wrapping shuffled 1 GB for 27 s.
    void hostile_recall_layouts_are_refused_by_export_in_seconds() {
        SafetensorsFile file = read_safetensors(demo_path("recall_linear.safetensors"));
        for (const auto& [name, task] : std::vector<std::pair<QString, std::string>>{
                 {"queries",
                  R"({"name": "recall", "keys": 128, "values": 128, "null": 256, "queries": 1000000000000})"},
                 {"overflow", R"({"name": "recall", "keys": 134217728, "values": 9223372036720558080, "null": 256,
                                 "queries": 16})"}}) {
            file.metadata["task"] = task;
            const QString weights = path(name + ".safetensors");
            write_safetensors(weights.toStdString(), file);
            write_json(path(name + ".json"), recall_session(weights));
            QElapsedTimer timer;
            timer.start();
            const CliResult run =
                run_cli({"export", "--session", path(name + ".json"), "--out", path(name + "_out")}, "1G", dir_.path());
            VERIFY_REFUSED_IN_ONE_LINE(run, "recall task");
            QVERIFY2(timer.elapsed() < 10000, qPrintable(name));
            QVERIFY(run.peak_bytes < 1024.0 * 1024 * 1024);
        }
    }

    // --- 3: untrusted session text ----------------------------------------------------------------

    void intervention_text_is_quoted_and_cut() {
        const QString hostile = QString(QChar(0x1b)) + "[31m" + QString(3000, 'z');
        for (const QJsonObject& intervention :
             {QJsonObject{{"kind", hostile}, {"step", 0}},
              QJsonObject{{"kind", "clear-layer"}, {"step", 0}, {hostile, 1}},
              QJsonObject{{"kind", "ablate-head"}, {"step", 0}, {"layer", 0}, {"head", 0}, {"role", hostile}}}) {
            QJsonObject session = small_session("linear", 2);
            session["interventions"] = QJsonArray{intervention};
            const QString message = error_of([&] { ui::session_from_json(session); });
            QVERIFY2(!message.isEmpty() && message.size() < 400 && !message.contains(QChar(0x1b)),
                     qPrintable(message.left(400)));
        }
        ui::Intervention edit;
        edit.kind = ui::InterventionKind::EditToken;
        edit.tokens = hostile;
        QVERIFY(!ui::describe(edit).contains(QChar(0x1b)) && ui::describe(edit).size() < 200);
        // A CSV path from a session is quoted too.
        ui::SessionSpec spec = ui::testing::small_spec();
        spec.input.kind = ui::InputKind::File;
        spec.input.path = path(hostile + ".csv");
        const QString missing = error_of([&] { ui::InputSource source(spec, spec.config); });
        QVERIFY2(!missing.isEmpty() && missing.size() < 400 && !missing.contains(QChar(0x1b)),
                 qPrintable(missing.left(400)));
    }

    // --- 4: the session's config against its weights file ----------------------------------------

    // The file's 2-layer linear model ran (and session.json was rewritten) for a session asking for
    // 3 layers of full attention at q8 with a bf16 cache.
    void a_session_contradicting_its_weights_file_is_refused() {
        const QString weights = QString::fromStdString(demo_path("recall_linear.safetensors"));
        QJsonObject session = recall_session(weights);
        QJsonObject config = session["config"].toObject();
        config["n_layers"] = 3;
        config["attention_type"] = "full";
        config["precision"] = "q8";
        session["config"] = config;
        write_json(path("contradicts.json"), session);
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"export", "--session", path("contradicts.json"), "--out",
                                            path("contradicts_out")},
                                           {}, dir_.path()),
                                   "differs from the one asked for");
        QVERIFY(!QFileInfo::exists(path("contradicts_out")));
    }

    void a_session_chooses_the_precision_of_loaded_weights() {
        const QString weights = QString::fromStdString(demo_path("recall_softmax.safetensors"));
        QJsonObject session = recall_session(weights, 3);
        QJsonObject config = session["config"].toObject();
        config["precision"] = "bf16";
        config["cache_precision"] = "bf16";
        session["config"] = config;
        const ui::SessionSpec spec = ui::session_from_json(session);
        const auto run = ui::Session::open(spec);
        QCOMPARE(run->spec().config.precision, std::string("bf16"));
        QCOMPARE(run->spec().config.cache_precision, std::string("bf16"));
        QCOMPARE(run->info().model->config().precision, std::string("bf16"));
        run->advance();
        write_json(path("bf16.json"), session);
        const CliResult exported =
            run_cli({"export", "--session", path("bf16.json"), "--out", path("bf16_out")}, {}, dir_.path());
        QVERIFY2(exported.exit_code == 0, qPrintable(exported.stderr_text));
        const ui::SessionSpec written = ui::session_from_file(path("bf16_out/session.json"));
        QCOMPARE(written.config.precision, std::string("bf16"));
        QCOMPARE(written.config.cache_precision, std::string("bf16"));
    }

    // --- 5, 13: CSV ---------------------------------------------------------------------------------

    // One 20 MB line took about 38 bytes of memory per byte of file (a 50 MB line peaked at 1.9 GB).
    void a_long_csv_line_is_read_in_little_memory() {
        const QString csv = path("long_line.csv");
        {
            QFile file(csv);
            QVERIFY(file.open(QIODevice::WriteOnly));
            const QByteArray chunk = QByteArray("0.5,").repeated(1 << 16);
            for (int i = 0; i < 80; ++i) file.write(chunk);  // 20 MB, 5.2 million values
            file.write("0.5\n");
        }
        ui::SessionSpec spec = ui::testing::small_spec("linear");
        spec.input.kind = ui::InputKind::File;
        spec.input.path = csv;
        spec.steps = 1;
        write_json(path("long_line.json"), ui::session_to_json(spec));
        const CliResult run =
            run_cli({"export", "--session", path("long_line.json"), "--out", path("long_line_out")}, "2G", dir_.path());
        // 5.2 million values on a row of a 16-wide model: far more sequences than a run holds.
        VERIFY_REFUSED_IN_ONE_LINE(run, "more than a run's 1024 sequences");
        write_json(path("empty.json"), small_session("linear", 0));
        const CliResult baseline =
            run_cli({"export", "--session", path("empty.json"), "--out", path("baseline_out")}, "2G", dir_.path());
        QVERIFY2(
            run.peak_bytes < baseline.peak_bytes + 150e6,
            qPrintable(
                QString("peak %1 MB, an empty run %2 MB").arg(run.peak_bytes / 1e6).arg(baseline.peak_bytes / 1e6)));
    }

    void csv_batches_are_bounded_and_cr_lines_read() {
        ui::SessionSpec spec = ui::testing::small_spec();
        spec.input.kind = ui::InputKind::File;
        const int width = int(spec.config.d_model());
        spec.input.path = path("wide.csv");
        write_file(spec.input.path, (QByteArray("0,").repeated(width * 1025 - 1) + "0\n").repeated(2));
        const QString wide = error_of([&] { ui::InputSource source(spec, spec.config); });
        QVERIFY2(wide.contains("more than a run's 1024 sequences"), qPrintable(wide));
        spec.input.path = path("cr.csv");
        const QByteArray row = QByteArray("0.25,").repeated(width - 1) + "0.5";
        write_file(spec.input.path, "header\r" + row + "\r" + row + "\r\n" + row + "\n");
        ui::InputSource source(spec, spec.config);
        QCOMPARE(source.length().value_or(0), int64_t(3));
        QCOMPARE(source.batch(), 1);
        RowMatrix x;
        source.input(2, RowMatrix(), x);
        QCOMPARE(x(0, width - 1), 0.5f);
        spec.input.path = path("bom.csv");
        write_file(spec.input.path, "\xEF\xBB\xBF" + row + "\n");
        QCOMPARE(ui::InputSource(spec, spec.config).length().value_or(0), int64_t(1));
    }

    // --- 7: the window's traces ------------------------------------------------------------------------

    // The seed example at batch 256 under a 1 GB limit reached 1.65 GB with the fixed 2 GiB cap.
    void the_trace_budget_follows_the_memory_limit() {
        ModelConfig seed;
        seed.attention_type = "linear";
        seed.n_layers = 8;
        seed.n_heads = 12;
        seed.query_dimensions = seed.value_dimensions = 32;
        seed.feed_forward_dimensions = 1536;
        {
            LimitScope limit("1G");
            const std::size_t budget = ui::trace_budget(seed, 256);
            QVERIFY2(double(budget) + estimate_model_bytes(seed) < 1024.0 * 1024 * 1024,
                     qPrintable(QString::number(budget)));
            QVERIFY(budget < ui::kMaxTraceBytes);
        }
        {
            LimitScope limit("100G");
            QCOMPARE(ui::trace_budget(seed, 10), ui::kMaxTraceBytes);
        }
        {
            LimitScope limit("64M");
            QCOMPARE(ui::trace_budget(seed, 10), std::size_t(0));
        }
        ui::TraceStore store;
        store.start({}, 1000);
        QCOMPARE(store.max_bytes(), std::size_t(1000));
        QVERIFY(!store.full());
    }

    // --- 8: an export replaces a folder's earlier set ---------------------------------------------------

    void an_export_over_another_leaves_none_of_its_files() {
        write_json(path("linear.json"), small_session("linear", 3));
        write_json(path("full.json"), small_session("full", 3));
        const QString out = path("replaced");
        QVERIFY(run_cli({"export", "--session", path("linear.json"), "--out", out}, {}, dir_.path()).exit_code == 0);
        QVERIFY(QFileInfo::exists(out + "/spectrum.png") && QFileInfo::exists(out + "/capacity.png"));
        write_file(out + "/notes.txt", "mine");
        const CliResult svg =
            run_cli({"export", "--session", path("full.json"), "--out", out, "--format", "svg"}, {}, dir_.path());
        QVERIFY2(svg.exit_code == 0, qPrintable(svg.stderr_text));
        const QStringList files = QDir(out).entryList(QDir::Files | QDir::Hidden);
        QVERIFY2(!files.contains("spectrum.png") && !files.contains("capacity.png") && !files.contains("outputs.png"),
                 qPrintable(files.join(' ')));
        QVERIFY(files.contains("outputs.svg") && files.contains("traces.csv") && files.contains("notes.txt"));
        QVERIFY(QDir(out).entryList(QDir::Dirs | QDir::Hidden | QDir::NoDotAndDotDot).isEmpty());
    }

    // --- 9, 12: numbers and scripted actions ---------------------------------------------------------------

    void float32_values_are_checked_as_float32() {
        for (const auto& [kind, key] :
             std::vector<std::pair<QString, QString>>{{"edit-input", "value"}, {"scale-head", "factor"}}) {
            QJsonObject intervention{{"kind", kind}, {"step", 0}};
            if (kind == "edit-input")
                intervention = QJsonObject{{"kind", kind}, {"step", 0}, {"element", 0}, {"index", 0}};
            else intervention = QJsonObject{{"kind", kind}, {"step", 0}, {"layer", 0}, {"head", 0}};
            for (const double value : {1e39, 1e308}) {
                intervention[key] = value;
                QJsonObject session = small_session("linear", 2);
                session["interventions"] = QJsonArray{intervention};
                const QString message = error_of([&] { ui::session_from_json(session); });
                QVERIFY2(message.contains(key) && message.contains("float32"), qPrintable(message));
            }
        }
        const ui::GuiAction input = ui::parse_intervention("input:1:2:-0.75");
        QCOMPARE(input.intervention.value, -0.75);
        QCOMPARE(input.intervention.index, 2);
        QVERIFY(error_of([] { ui::parse_intervention("input:0:0:1e39"); }).contains("float32"));
        QVERIFY(error_of([] { ui::parse_intervention("scale:0:0:1e39"); }).contains("float32"));
        QVERIFY(!error_of([] { ui::parse_intervention("input:0.5:0:1"); }).isEmpty());
    }

    // clear-head needs a softmax head: refused on linear attention, and the script says so by its exit code.
    void a_refused_scripted_intervention_fails_the_script() {
        write_json(path("script.json"), small_session("linear", 0));
        const CliResult refused = run_cli({"--session", path("script.json"), "--steps", "2", "--intervene",
                                           "clear-head:0:0", "--screenshot", path("refused.png")},
                                          {}, dir_.path());
        QVERIFY2(refused.exit_code == 2, qPrintable(QString::number(refused.exit_code) + refused.stderr_text));
        const CliResult fine = run_cli({"--session", path("script.json"), "--steps", "2", "--intervene",
                                        "input:0:1:0.5", "--steps", "1", "--screenshot", path("fine.png")},
                                       {}, dir_.path());
        QVERIFY2(fine.exit_code == 0, qPrintable(fine.stderr_text));
        QVERIFY(QFileInfo::exists(path("fine.png")));
    }

    // --- 11: a full disk -------------------------------------------------------------------------------

    // "libpng error: Write Error" and ".out-55866a0e/outputs.png: Unknown error": two lines naming a
    // staging folder that was gone. A small tmpfs is a full disk; mounting one needs root.
    void a_full_disk_is_said_once_naming_the_destination() {
        const QString disk = path("small_disk");
        QDir().mkpath(disk);
        if (::geteuid() != 0 || QProcess::execute("mount", {"-t", "tmpfs", "-o", "size=600k", "tmpfs", disk}) != 0)
            QSKIP("mounting a small tmpfs needs root");
        write_json(path("full.json"), small_session("linear", 0));
        QJsonObject session = small_session("linear", 100);
        session["batch"] = 10;
        write_json(path("full.json"), session);
        const CliResult run =
            run_cli({"export", "--session", path("full.json"), "--out", disk + "/out"}, {}, dir_.path());
        QProcess::execute("umount", {disk});
        VERIFY_REFUSED_IN_ONE_LINE(run, "no space left on device");
        QVERIFY2(run.stderr_text.contains(disk + "/out/") && !run.stderr_text.contains(".out"),
                 qPrintable(run.stderr_text));
    }

    // --- 15, 16: interrupted and absurd exports ---------------------------------------------------------------

    void an_interrupted_export_leaves_no_staging_folder() {
        write_json(path("long.json"), small_session("linear", 0));
        const QString out = path("interrupted");
        QDir().mkpath(out);
        // What a killed export left: a staging folder named after a process that is gone.
        QDir().mkpath(out + "/.stepscope-export-999999999-abc/.replaced");
        QProcess process;
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert("QT_QPA_PLATFORM", "offscreen");
        process.setProcessEnvironment(environment);
        process.start(STEPSCOPE_BINARY,
                      {"export", "--session", path("long.json"), "--steps", "10000000", "--out", out});
        QVERIFY(process.waitForStarted());
        // Stepping has begun once the staging folder exists (and the abandoned one is gone).
        QVERIFY(QTest::qWaitFor(
            [&] {
                const QStringList staged = QDir(out).entryList({".stepscope-export-*"}, QDir::Dirs | QDir::Hidden);
                return staged.size() == 1 && !staged.contains(".stepscope-export-999999999-abc");
            },
            20000));
        ::kill(pid_t(process.processId()), SIGTERM);
        QVERIFY(process.waitForFinished(20000));
        QCOMPARE(process.exitStatus(), QProcess::CrashExit);  // ended by its signal
        QVERIFY2(QDir(out).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot).isEmpty(),
                 qPrintable(QDir(out).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot).join(' ')));
    }

    // "steps": 1e9 started an export that would write about 6 TB of traces for days.
    void a_session_of_absurd_length_is_refused_before_stepping() {
        QJsonObject session = small_session("linear", 0);
        session["steps"] = 1e9;
        write_json(path("absurd.json"), session);
        QElapsedTimer timer;
        timer.start();
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"export", "--session", path("absurd.json"), "--out", path("absurd_out")},
                                           {}, dir_.path()),
                                   "refused: exporting 1000000000 steps");
        QVERIFY(timer.elapsed() < 10000);
        QVERIFY(!QFileInfo::exists(path("absurd_out")));
        QVERIFY(QDir(dir_.path()).entryList({".absurd_out*"}, QDir::Dirs | QDir::Hidden).isEmpty());
    }

    // --- the "runs" array of a session's tree ----------------------------------------------------------

    // A tree whose parents are unknown, circular or too short, or whose steps the memory limit cannot
    // hold, is refused in one line by the window and by export, before any model is built.
    void hostile_run_trees_are_refused_in_one_line() {
        const auto run = [this](const QString& name, const QJsonValue& parent, double branch_step, double steps) {
            QJsonObject r = small_session("linear", 0);
            r.remove("format");
            r.remove("version");
            r["name"] = name;
            r["parent"] = parent;
            r["branch_step"] = branch_step;
            r["steps"] = steps;
            return r;
        };
        const auto tree = [](const QJsonArray& runs) {
            return QJsonObject{{"format", "stepscope-session"}, {"version", 2}, {"runs", runs}};
        };
        const QJsonValue root = QJsonValue::Null;
        struct Case {
            QString name;
            QJsonObject session;
            QString clue;
        };
        const std::vector<Case> cases = {
            {"unknown_parent", tree({run("a", root, 0, 10), run("b", "nobody", 5, 10)}),
             "names parent 'nobody', which is not a run listed before it"},
            {"cycle", tree({run("a", "b", 5, 10), run("b", "a", 5, 10)}), "which is not a run listed before it"},
            {"own_parent", tree({run("a", "a", 0, 10)}), "which is not a run listed before it"},
            {"past_parent", tree({run("a", root, 0, 10), run("b", "a", 11, 20)}),
             "branches at step 11, past its parent's last step 10"},
            {"before_branch", tree({run("a", root, 0, 10), run("b", "a", 8, 5)}),
             "reaches step 5, before its branch step 8"},
            {"same_name", tree({run("a", root, 0, 10), run("a", root, 0, 10)}), "has the name of an earlier run"},
            {"root_branch_step", tree({run("a", root, 3, 10)}), "its branch_step must be 0"},
            {"huge", tree({run("a", root, 0, 1e9), run("b", "a", 0, 1e9)}), "over the memory limit"},
            {"not_array", QJsonObject{{"format", "stepscope-session"}, {"version", 2}, {"runs", 3}},
             "'runs' must be an array"},
        };
        for (const Case& c : cases) {
            const QString file = path("tree_" + c.name + ".json");
            write_json(file, c.session);
            QElapsedTimer timer;
            timer.start();
            const CliResult exported =
                run_cli({"export", "--session", file, "--out", path("tree_" + c.name + "_out")}, "1G", dir_.path());
            VERIFY_REFUSED_IN_ONE_LINE(exported, c.clue);
            VERIFY_REFUSED_IN_ONE_LINE(run_cli({"export", "--session", file, "--list-runs"}, "1G", dir_.path()),
                                       c.clue);
            VERIFY_REFUSED_IN_ONE_LINE(run_cli({"--session", file, "--steps", "1"}, "1G", dir_.path()), c.clue);
            QVERIFY2(timer.elapsed() < 20000, qPrintable(c.name));
            QVERIFY(!QFileInfo::exists(path("tree_" + c.name + "_out")));
        }
        // A branch that does not share its parent's model cannot show its parent's steps.
        QJsonArray runs{run("a", root, 0, 10), run("b", "a", 5, 10)};
        QJsonObject other = runs[1].toObject();
        other["weights"] = QJsonObject{{"seed", 99}};
        runs[1] = other;
        write_json(path("tree_other_model.json"), tree(runs));
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"export", "--session", path("tree_other_model.json"), "--list-runs"}, {},
                                           dir_.path()),
                                   "does not share its parent's model");
        // --run names a run the tree has.
        write_json(path("tree_fine.json"), tree({run("a", root, 0, 4), run("b", "a", 2, 3)}));
        VERIFY_REFUSED_IN_ONE_LINE(run_cli({"export", "--session", path("tree_fine.json"), "--run", "c", "--out",
                                            path("tree_fine_out")},
                                           {}, dir_.path()),
                                   "the session has no run 'c'");
    }
};

QTEST_MAIN(HostileSessionTest)
#include "test_ui_hostile_session.moc"
