// Atomic writes of exports: a failed export leaves the folder exactly as it was, and no file is clobbered.
#include <QDirIterator>
#include <QImage>
#include <QTemporaryDir>
#include <QtTest>

#include <map>

#include "headless_export.h"
#include "plots/plot_export.h"
#include "plots/plot_panel.h"
#include "session/atomic_files.h"
#include "session/session.h"
#include "session/trace_store.h"
#include "stepscope/error.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

// Every entry under `folder`, hidden ones included: files by their bytes, folders as "<folder>".
std::map<QString, QByteArray> contents(const QString& folder) {
    std::map<QString, QByteArray> entries;
    QDirIterator it(folder, QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot,
                    QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        QFile file(path);
        entries[QDir(folder).relativeFilePath(path)] =
            it.fileInfo().isDir() ? QByteArray("<folder>") : (file.open(QIODevice::ReadOnly) ? file.readAll() : "?");
    }
    return entries;
}

void write_text(const QString& path, const QByteArray& text) {
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly) && file.write(text) == text.size());
}

HeadlessExport small_export(const QString& directory, int64_t steps) {
    HeadlessExport job;
    job.spec = small_spec("linear", InputKind::Random);
    job.steps = steps;
    job.directory = directory;
    job.width = 160;
    job.height = 120;
    return job;
}

}  // namespace

class AtomicWritesTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    // The old export wrote plots, traces and snapshot into the folder before failing on session.json.
    void a_failed_export_leaves_the_folder_as_it_was() {
        const QString folder = dir_.filePath("failed");
        run_headless_export(small_export(folder, 3));
        QVERIFY(QFile::remove(QDir(folder).filePath("session.json")));
        QVERIFY(QDir(folder).mkpath("session.json/blocks-the-name"));
        write_text(QDir(folder).filePath("notes.txt"), "the user's own file");
        const auto before = contents(folder);

        QVERIFY_THROWS_EXCEPTION(Error, run_headless_export(small_export(folder, 5)));
        QVERIFY(contents(folder) == before);
    }

    // The old "export all plots" wrote the first plots, then failed on performance.png.
    void a_failed_export_of_all_plots_leaves_the_folder_as_it_was() {
        const QString folder = dir_.filePath("plots");
        run_headless_export(small_export(folder, 2));
        QVERIFY(QFile::remove(QDir(folder).filePath("performance.png")));
        QVERIFY(QDir(folder).mkdir("performance.png"));
        const auto before = contents(folder);

        SessionSpec spec = small_spec("linear", InputKind::Random);
        auto session = Session::open(spec);
        TraceStore traces;
        traces.start(session->info());
        traces.append({session->advance(), session->advance(), session->advance(), session->advance()});
        PlotPanel panel(&traces);
        panel.resize(200, 150);
        panel.rebuildAll();
        QVERIFY_THROWS_EXCEPTION(Error, save_all_plots(panel, folder, "png", 200, 150));
        QVERIFY(contents(folder) == before);

        QVERIFY(QDir(folder).rmdir("performance.png"));
        const QStringList written = save_all_plots(panel, folder, "png", 200, 150);
        // This run's linear attention was not looked inside: no implicit map, so no heatmap file.
        QCOMPARE(written.size(), 3);
        QVERIFY(!written.contains(QDir(folder).filePath("attention.png")));
        for (const QString& path : written) QCOMPARE(QImage(path).size(), QSize(200, 150));
    }

    // The old snapshot writer used the fixed name snapshot.safetensors.tmp.
    void a_file_named_like_a_temporary_is_not_clobbered() {
        const QString folder = dir_.filePath("bystander");
        QVERIFY(QDir().mkpath(folder));
        write_text(QDir(folder).filePath("snapshot.safetensors.tmp"), "not the exporter's");
        write_text(QDir(folder).filePath("notes.txt"), "kept");
        const QStringList written = run_headless_export(small_export(folder, 2));

        auto after = contents(folder);
        QCOMPARE(after["snapshot.safetensors.tmp"], QByteArray("not the exporter's"));
        QCOMPARE(after["notes.txt"], QByteArray("kept"));
        QCOMPARE(int(after.size()), written.size() + 2);  // nothing staged is left behind
        for (const QString& path : written) QVERIFY2(QFileInfo(path).size() > 0, qPrintable(path));
    }

    // The old export created the folder first, so a failed one left an empty folder behind.
    void a_failed_export_into_a_new_folder_creates_nothing() {
        const QString parent = dir_.filePath("fresh");
        QVERIFY(QDir().mkpath(parent));
        HeadlessExport job = small_export(QDir(parent).filePath("run"), 2);
        job.width = 8;
        QVERIFY_THROWS_EXCEPTION(Error, run_headless_export(job));
        QVERIFY(contents(parent).empty());

        job.width = 160;
        run_headless_export(job);
        QCOMPARE(QDir(parent).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot), QStringList{"run"});
        QVERIFY(QFileInfo(QDir(job.directory).filePath("session.json")).size() > 0);
    }

    void a_folder_that_is_a_file_is_refused() {
        const QString path = dir_.filePath("a-file");
        write_text(path, "x");
        const QString message = [&] {
            try {
                StagedFolder folder(path);
            } catch (const Error& e) {
                return QString::fromStdString(e.what());
            }
            return QString();
        }();
        QVERIFY2(message.contains("is not a folder"), qPrintable(message));
    }

private:
    QTemporaryDir dir_;
};

QTEST_MAIN(AtomicWritesTest)
#include "test_ui_atomic_writes.moc"
