// Finding the shipped demo models and describing each from its own metadata.
#include "session/demo_models.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>

#include "session/file_kind.h"
#include "stepscope/attention_kind.h"

namespace stepscope::ui {

namespace {

constexpr int kDefaultPairs = 32;

QJsonObject json_object(const std::map<std::string, std::string>& metadata, const std::string& key) {
    const auto found = metadata.find(key);
    if (found == metadata.end()) return {};
    return QJsonDocument::fromJson(QByteArray::fromStdString(found->second)).object();
}

}  // namespace

QString demo_models_folder() {
    const QString installed =
        QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("../share/stepscope/models"));
    const QString source = QStringLiteral(STEPSCOPE_SOURCE_DIR "/resources/models");
    for (const QString& folder : {installed, source})
        if (QFileInfo(folder).isDir()) return QFileInfo(folder).absoluteFilePath();
    return {};
}

QList<DemoModel> demo_models() {
    QList<DemoModel> demos;
    const QString folder = demo_models_folder();
    if (folder.isEmpty()) return demos;
    for (const QFileInfo& file :
         QDir(folder).entryInfoList({QStringLiteral("*.safetensors")}, QDir::Files, QDir::Name)) {
        DemoModel demo{file.absoluteFilePath(), file.completeBaseName(), {}};
        try {
            demo.description = describe_token_model(safetensors_metadata(demo.path));
        } catch (const std::exception& e) {
            demo.description = QString::fromStdString(e.what());
        }
        demos << demo;
    }
    return demos;
}

bool is_token_model(const std::map<std::string, std::string>& metadata) { return metadata.count("vocabulary") > 0; }

QString describe_token_model(const std::map<std::string, std::string>& metadata) {
    const QJsonObject task = json_object(metadata, "task");
    const QJsonObject config = json_object(metadata, "config");
    // The task's description up to its colon: "associative recall: K key+value pairs, ..." -> "associative recall".
    QString what = task.value("description").toString(task.value("name").toString(QStringLiteral("no task")));
    what = what.section(':', 0, 0).section(" (", 0, 0).trimmed();
    const QString type = config.value("attention_type").toString();
    const auto known = attention_kind_names();
    const QString attention = std::find(known.begin(), known.end(), type.toStdString()) != known.end()
                                  ? QString::fromStdString(attention_capabilities(type.toStdString()).description)
                                  : type + QStringLiteral(" attention");
    QString line = QStringLiteral("%1, %2, %3 layers").arg(what, attention).arg(config.value("n_layers").toInt());
    if (const auto trained = metadata.find("trained_value"); trained != metadata.end()) {
        const QString metric = task.value("metric").toString();
        line += QStringLiteral("; %1 %2")
                    .arg(metric == QLatin1String("bits_per_character") ? QStringLiteral("bits/char") : metric)
                    .arg(QString::fromStdString(trained->second).toDouble(), 0, 'f', 3);
    }
    return line;
}

InputSpec default_token_input(const std::map<std::string, std::string>& metadata, const InputSpec& input) {
    InputSpec tokens;
    tokens.kind = InputKind::Tokens;
    tokens.seed = input.seed;
    if (json_object(metadata, "task").value("name").toString() == QLatin1String("recall")) tokens.pairs = kDefaultPairs;
    else tokens.text = QStringLiteral("And God said");
    return tokens;
}

int recall_instance_steps(const std::map<std::string, std::string>& metadata, int pairs) {
    return pairs + json_object(metadata, "task").value("queries").toInt();
}

}  // namespace stepscope::ui
