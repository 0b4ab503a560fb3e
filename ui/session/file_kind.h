// What a file dropped on the window or picked from Recent files is, read from its name and header only.
#pragma once

#include <QString>

#include <map>
#include <string>

namespace stepscope::ui {

enum class FileKind { Model, Snapshot, Session, Input, Unknown };

// The `__metadata__` of a safetensors file, read from its header alone (a model's weights may be
// gigabytes). Throws stepscope::Error naming the file when the header is damaged.
std::map<std::string, std::string> safetensors_metadata(const QString& path);

// .json: a session; .csv: an input; .safetensors: a snapshot when Stepscope's session or a
// state is in its metadata, a model when a config is. Unknown for anything else or unreadable.
FileKind file_kind(const QString& path);

}  // namespace stepscope::ui
