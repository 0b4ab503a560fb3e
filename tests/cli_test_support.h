// Running the stepscope binary from a test, and the contract every subcommand keeps for bad arguments.
#pragma once

#include <QProcess>
#include <QString>
#include <QStringList>
#include <QtTest>

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

}  // namespace stepscope::testing

// A bad command line: exit code 2 and one line on stderr, "stepscope COMMAND: ...".
#define STEPSCOPE_VERIFY_USAGE_ERROR(command, arguments)                                                 \
    do {                                                                                                 \
        const auto result_ = ::stepscope::testing::run_stepscope(arguments);                             \
        QVERIFY2(result_.exit_code == 2, qPrintable((arguments).join(' ')));                             \
        QCOMPARE(result_.stderr_text.trimmed().count('\n'), 0);                                          \
        QVERIFY2(result_.stderr_text.startsWith(QStringLiteral("stepscope " command ": ")),              \
                 qPrintable(result_.stderr_text));                                                       \
    } while (0)
