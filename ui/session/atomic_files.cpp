// Atomic exports: QSaveFile for one file; a staging folder and backed-up renames for a folder's worth.
#include "session/atomic_files.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QSaveFile>

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

// Creates a folder `prefix`<random> that did not exist, with the permissions a new folder gets.
QString create_unique_folder(const QString& prefix) {
    for (int attempt = 0; attempt < 64; ++attempt) {
        const QString name = prefix + QString::number(QRandomGenerator::global()->generate(), 16);
        if (QDir().mkdir(name)) return name;
    }
    return {};
}

}  // namespace

void write_file_atomically(const QString& path, const QByteArray& bytes) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
        throw file_error(path, QStringLiteral("cannot write (%1)").arg(file.errorString()));
}

StagedFolder::StagedFolder(const QString& directory)
    : directory_(QDir::cleanPath(directory)), existed_(QFileInfo::exists(directory_)) {
    if (existed_ && !QFileInfo(directory_).isDir()) throw file_error(directory_, QStringLiteral("is not a folder"));
    const QFileInfo folder(directory_);
    if (!existed_ && !QDir().mkpath(folder.absolutePath()))
        throw file_error(directory_, QStringLiteral("cannot create the folder"));
    staging_ = create_unique_folder(existed_ ? directory_ + QStringLiteral("/.stepscope-export-")
                                             : folder.absolutePath() + "/." + folder.fileName() + "-");
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
    if (failure) throw file_error(directory_, QStringLiteral("cannot create the folder (%1)")
                                                  .arg(QString::fromStdString(failure.message())));
    staging_.clear();
}

void StagedFolder::replaceFiles() {
    const QDir staged(staging_);
    const QString backups = QStringLiteral(".replaced");
    if (!staged.mkdir(backups)) throw file_error(staged.filePath(backups), QStringLiteral("cannot create the folder"));
    struct Moved {
        fs::path target, backup;  // backup empty: the file is new to the folder
    };
    std::vector<Moved> moved;
    QString current;
    try {
        for (const QString& name : staged.entryList(QDir::Files | QDir::Hidden)) {
            current = finalPath(name);
            Moved move{native(current), {}};
            if (fs::exists(fs::symlink_status(move.target))) {
                move.backup = native(staged.filePath(backups + "/" + name));
                keep_copy(move.target, move.backup);
            }
            fs::rename(native(staged.filePath(name)), move.target);
            moved.push_back(move);
        }
    } catch (const fs::filesystem_error& e) {
        for (auto move = moved.rbegin(); move != moved.rend(); ++move) {
            std::error_code ignored;
            if (move->backup.empty()) fs::remove(move->target, ignored);
            else fs::rename(move->backup, move->target, ignored);
        }
        throw file_error(current, QStringLiteral("cannot be replaced (%1); the folder keeps its previous files")
                                      .arg(QString::fromStdString(e.code().message())));
    }
}

}  // namespace stepscope::ui
