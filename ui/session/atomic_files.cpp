// Atomic exports: QSaveFile for one file; a staging folder and backed-up renames for a folder's worth.
#include "session/atomic_files.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QSaveFile>
#include <QStorageInfo>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "stepscope/error.h"

namespace stepscope::ui {

namespace fs = std::filesystem;

namespace {

Error file_error(const QString& path, const QString& what) {
    return Error(QStringLiteral("%1: %2").arg(path, what).toStdString());
}

fs::path native(const QString& path) { return fs::path(QFile::encodeName(path).toStdString()); }

// A second name for `file`'s current contents: a hard link where the file system has them, else a copy.
void keep_copy(const fs::path& file, const fs::path& copy) {
    std::error_code no_link;
    fs::create_hard_link(file, copy, no_link);
    if (no_link) fs::copy_file(file, copy);
}

// Creates a folder `prefix`<pid>-<random> that did not exist, with the permissions a new folder gets.
// The process id lets a later export tell a staging folder abandoned by a killed process from a live one.
QString create_unique_folder(const QString& prefix) {
    for (int attempt = 0; attempt < 64; ++attempt) {
        const QString name =
            prefix + QString::number(::getpid()) + "-" + QString::number(QRandomGenerator::global()->generate(), 16);
        if (QDir().mkdir(name)) return name;
    }
    return {};
}

// Removes the staging folders `folder`/`prefix`<pid>-... whose process is gone (killed mid-export:
// no destructor ran). A live process's folder, or a name without a process id, stays.
void remove_abandoned(const QString& folder, const QString& prefix) {
    const QDir dir(folder);
    for (const QString& name : dir.entryList({prefix + "*"}, QDir::Dirs | QDir::Hidden | QDir::NoDotAndDotDot)) {
        bool ok = false;
        const qint64 pid = name.mid(prefix.size()).section('-', 0, 0).toLongLong(&ok);
        if (!ok || pid <= 0 || pid == ::getpid()) continue;
        if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;
        QDir(dir.filePath(name)).removeRecursively();
    }
}

}  // namespace

QString write_failure(const QFileDevice& file, const QString& path) {
    // Less than a block free: what a full disk leaves.
    constexpr qint64 kFull = 64 * 1024;
    const QStorageInfo disk(QFileInfo(path).absolutePath());
    if (disk.isValid() && disk.bytesAvailable() < kFull) return QStringLiteral("no space left on device");
    return file.errorString();
}

void write_file_atomically(const QString& path, const QByteArray& bytes) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
        throw file_error(path, QStringLiteral("cannot write (%1)").arg(write_failure(file, path)));
}

StagedFolder::StagedFolder(const QString& directory)
    : directory_(QDir::cleanPath(directory)), existed_(QFileInfo::exists(directory_)) {
    if (existed_ && !QFileInfo(directory_).isDir()) throw file_error(directory_, QStringLiteral("is not a folder"));
    const QFileInfo folder(directory_);
    if (!existed_ && !QDir().mkpath(folder.absolutePath()))
        throw file_error(directory_, QStringLiteral("cannot create the folder"));
    // Inside an existing folder, or beside a new one; what an earlier, killed export left there goes first.
    const QString parent = existed_ ? directory_ : folder.absolutePath();
    const QString prefix =
        existed_ ? QStringLiteral(".stepscope-export-") : "." + folder.fileName() + ".stepscope-export-";
    remove_abandoned(parent, prefix);
    staging_ = create_unique_folder(parent + "/" + prefix);
    if (staging_.isEmpty()) throw file_error(directory_, QStringLiteral("cannot create the folder"));
}

StagedFolder::~StagedFolder() {
    if (!staging_.isEmpty()) QDir(staging_).removeRecursively();
}

QString StagedFolder::stagedPath(const QString& name) const { return QDir(staging_).filePath(name); }

QString StagedFolder::finalPath(const QString& name) const { return QDir(directory_).filePath(name); }

void StagedFolder::commit() {
    if (existed_) {
        replaceFiles();
        return;
    }
    std::error_code failure;
    fs::rename(native(staging_), native(directory_), failure);
    if (failure)
        throw file_error(
            directory_, QStringLiteral("cannot create the folder (%1)").arg(QString::fromStdString(failure.message())));
    staging_.clear();
}

void StagedFolder::replaceFiles() {
    const QDir staged(staging_);
    const QString backups = QStringLiteral(".replaced");
    if (!staged.mkdir(backups)) throw file_error(staged.filePath(backups), QStringLiteral("cannot create the folder"));
    struct Moved {
        fs::path target, backup;  // backup empty: the file is new to the folder
        bool removed = false;     // an earlier export's file this one does not write, moved to its backup
    };
    std::vector<Moved> moved;
    QString current;
    const QStringList names = staged.entryList(QDir::Files | QDir::Hidden);
    try {
        for (const QString& name : names) {
            current = finalPath(name);
            Moved move{native(current), {}};
            if (fs::exists(fs::symlink_status(move.target))) {
                move.backup = native(staged.filePath(backups + "/" + name));
                keep_copy(move.target, move.backup);
            }
            fs::rename(native(staged.filePath(name)), move.target);
            moved.push_back(move);
        }
        // The earlier set's files this export does not write go with the backups, removed with them.
        for (const QString& name : set_) {
            if (names.contains(name)) continue;
            current = finalPath(name);
            const fs::path target = native(current);
            if (!fs::is_regular_file(fs::symlink_status(target))) continue;
            Moved move{target, native(staged.filePath(backups + "/" + name)), true};
            fs::rename(move.target, move.backup);
            moved.push_back(move);
        }
    } catch (const fs::filesystem_error& e) {
        for (auto move = moved.rbegin(); move != moved.rend(); ++move) {
            std::error_code ignored;
            if (move->removed) fs::rename(move->backup, move->target, ignored);
            else if (move->backup.empty()) fs::remove(move->target, ignored);
            else fs::rename(move->backup, move->target, ignored);
        }
        throw file_error(current, QStringLiteral("cannot be replaced (%1); the folder keeps its previous files")
                                      .arg(QString::fromStdString(e.code().message())));
    }
}

}  // namespace stepscope::ui
