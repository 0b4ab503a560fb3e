// File kinds by suffix, and safetensors metadata read from the header without the tensors.
#include "session/file_kind.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtEndian>

#include "session/session.h"
#include "stepscope/error.h"

namespace stepscope::ui {

namespace {
constexpr qint64 kMaxHeaderLength = 100'000'000;  // the format's own limit

Error header_error(const QString& path, const QString& what) {
    return Error(QStringLiteral("%1: %2").arg(path, what).toStdString());
}
}  // namespace

std::map<std::string, std::string> safetensors_metadata(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) throw header_error(path, file.errorString());
    const QByteArray length_bytes = file.read(8);
    if (length_bytes.size() != 8) throw header_error(path, QStringLiteral("shorter than a safetensors header"));
    const quint64 length = qFromLittleEndian<quint64>(length_bytes.constData());
    if (length > quint64(kMaxHeaderLength) || qint64(length) > file.size() - 8)
        throw header_error(path, QStringLiteral("header length %1 does not fit the file").arg(length));
    const QJsonDocument header = QJsonDocument::fromJson(file.read(qint64(length)));
    if (!header.isObject()) throw header_error(path, QStringLiteral("the header is not a JSON object"));
    std::map<std::string, std::string> metadata;
    const QJsonObject entries = header.object().value(QStringLiteral("__metadata__")).toObject();
    for (auto it = entries.begin(); it != entries.end(); ++it)
        if (it.value().isString()) metadata[it.key().toStdString()] = it.value().toString().toStdString();
    return metadata;
}

FileKind file_kind(const QString& path) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("json")) return FileKind::Session;
    if (suffix == QLatin1String("csv")) return FileKind::Input;
    if (suffix != QLatin1String("safetensors")) return FileKind::Unknown;
    try {
        const auto metadata = safetensors_metadata(path);
        if (metadata.count(kSessionMetadata) || metadata.count("step")) return FileKind::Snapshot;
        if (metadata.count("config")) return FileKind::Model;
    } catch (const Error&) {
    }
    return FileKind::Unknown;
}

}  // namespace stepscope::ui
