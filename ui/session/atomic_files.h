// Atomic exports: one file through QSaveFile, or a set of files that lands in a folder all at once.
#pragma once

#include <QByteArray>
#include <QFileDevice>
#include <QString>
#include <QStringList>

namespace stepscope::ui {

// Why writing `file` (bound for `path`) failed, in words: "no space left on device" when the file
// system holding `path` is full (Qt may only say "Unknown error" then), else the file's own error.
QString write_failure(const QFileDevice& file, const QString& path);

// Writes `bytes` to `path` through QSaveFile: a uniquely named file beside `path`, renamed over
// it once complete. Throws stepscope::Error naming `path`; then `path` is as it was.
void write_file_atomically(const QString& path, const QByteArray& bytes);

// Files written into a fresh staging folder, then moved into `directory` together by commit().
// A missing `directory` is staged as a hidden sibling renamed into place whole; an existing one
// gets a hidden staging folder inside it, whose files replace their namesakes one by one, each
// replaced file kept until all are in place and put back if any move fails. Files of `directory`
// the export does not write stay. Until commit() succeeds, `directory` is exactly as it was; the
// destructor removes whatever was staged.
class StagedFolder {
public:
    // Throws stepscope::Error when `directory` is not a folder or nothing can be staged beside it.
    explicit StagedFolder(const QString& directory);
    ~StagedFolder();
    StagedFolder(const StagedFolder&) = delete;
    StagedFolder& operator=(const StagedFolder&) = delete;

    // Where to write the file `name` now (in the folder stagingFolder()), and where it will be once committed.
    QString stagingFolder() const { return staging_; }
    QString stagedPath(const QString& name) const;
    QString finalPath(const QString& name) const;

    // The names an earlier export of the same kind may have left in `directory` (every plot in every
    // format, the traces, ...): commit() removes those it does not write, so the folder holds one
    // run's set, never a mix of two. Each is kept until all files are in place, and put back if any
    // move fails.
    void replaceSet(const QStringList& names) { set_ = names; }

    // Throws stepscope::Error naming the file that could not be moved; `directory` is then as it was.
    void commit();

private:
    void replaceFiles();

    QString directory_;
    bool existed_;
    QString staging_;  // emptied once renamed into place
    QStringList set_;
};

}  // namespace stepscope::ui
