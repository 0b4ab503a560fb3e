// Running the stepscope binary from a test, and the contract every subcommand keeps for bad arguments.
#pragma once

#include <QByteArray>
#include <QFile>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QtTest>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <vector>

extern char** environ;

namespace stepscope::testing {

struct CliResult {
    int exit_code = -1;
    QString stdout_text;
    QString stderr_text;
};

inline CliResult run_stepscope(const QStringList& arguments) {
    QProcess process;
    process.start(STEPSCOPE_BINARY, arguments);
    process.waitForFinished(120000);
    return {process.exitCode(), QString::fromUtf8(process.readAllStandardOutput()),
            QString::fromUtf8(process.readAllStandardError())};
}

// A run of the binary with its own peak resident memory, which QProcess cannot give.
struct MeasuredRun {
    int exit_code = -1;  // 128 + the signal's number when a signal ended it
    QString stdout_text, stderr_text;
    double peak_bytes = 0;  // wait4's ru_maxrss: this child's alone
};

// The binary with `arguments` as bytes (a path that is not UTF-8 reaches it as it is) in this process's
// environment; stdout and stderr pass through files in `scratch`.
inline MeasuredRun run_measured(const QList<QByteArray>& arguments, const QString& scratch) {
    const QByteArray err = (scratch + "/stderr.txt").toLocal8Bit(), out = (scratch + "/stdout.txt").toLocal8Bit();
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 1, out.constData(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&files, 2, err.constData(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<QByteArray> words{QByteArray(STEPSCOPE_BINARY)};
    for (const QByteArray& a : arguments) words.push_back(a);
    std::vector<char*> argv;
    for (QByteArray& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    MeasuredRun result;
    const int spawned = posix_spawn(&pid, STEPSCOPE_BINARY, &files, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    if (spawned != 0) return result;
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.peak_bytes = double(usage.ru_maxrss) * 1024;
    QFile text(QString::fromLocal8Bit(err)), output(QString::fromLocal8Bit(out));
    if (text.open(QIODevice::ReadOnly)) result.stderr_text = QString::fromUtf8(text.readAll());
    if (output.open(QIODevice::ReadOnly)) result.stdout_text = QString::fromUtf8(output.readAll());
    return result;
}

}  // namespace stepscope::testing

// A bad command line: exit code 2 and one line on stderr, "stepscope COMMAND: ...".
#define STEPSCOPE_VERIFY_USAGE_ERROR(command, arguments)                                    \
    do {                                                                                    \
        const auto result_ = ::stepscope::testing::run_stepscope(arguments);                \
        QVERIFY2(result_.exit_code == 2, qPrintable((arguments).join(' ')));                \
        QCOMPARE(result_.stderr_text.trimmed().count('\n'), 0);                             \
        QVERIFY2(result_.stderr_text.startsWith(QStringLiteral("stepscope " command ": ")), \
                 qPrintable(result_.stderr_text));                                          \
    } while (0)
