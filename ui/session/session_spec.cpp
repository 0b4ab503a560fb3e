// Session JSON: strict reading with messages that name the key, and the seed example resource.
#include "session/session_spec.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

#include <cmath>
#include <set>

#include "session/run_tree.h"
#include "stepscope/error.h"
#include "stepscope/regular_file.h"

// Resources live in the static stepscope_ui library, whose initialiser a linker drops unless
// something calls it; Q_INIT_RESOURCE must be used outside any namespace.
static void init_ui_resources() { Q_INIT_RESOURCE(resources); }

namespace stepscope::ui {

namespace {

constexpr const char* kFormat = "stepscope-session";
constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53: JSON numbers are doubles

// Text from the file, quoted, escaped and cut short (error.h).
QString quoted(const QString& untrusted) { return QString::fromStdString(quote_text(untrusted.toStdString())); }

Error bad(const QString& key, const QString& what) {
    return Error(QStringLiteral("session key %1 %2").arg(quoted(key), what).toStdString());
}

void require_known(const QJsonObject& object, const QString& where, const std::set<QString>& known) {
    for (auto it = object.begin(); it != object.end(); ++it)
        if (!known.count(it.key()))
            throw bad(where.isEmpty() ? it.key() : where + "." + it.key(), QStringLiteral("is unknown"));
}

uint64_t integer(const QJsonObject& object, const QString& key, uint64_t fallback, const QString& where,
                 double maximum = kMaxExactInteger) {
    if (!object.contains(key)) return fallback;
    const QJsonValue value = object.value(key);
    const double number = value.toDouble(-1);
    if (!value.isDouble() || number < 0 || number > maximum || std::floor(number) != number)
        throw bad(where + key, QStringLiteral("must be an integer from 0 to %1").arg(maximum, 0, 'g', 16));
    return static_cast<uint64_t>(number);
}

QString text(const QJsonObject& object, const QString& key, const QString& where) {
    if (!object.contains(key)) return {};
    if (!object.value(key).isString()) throw bad(where + key, QStringLiteral("must be a string"));
    return object.value(key).toString();
}

QJsonObject child(const QJsonObject& object, const QString& key) {
    if (!object.contains(key)) return {};
    if (!object.value(key).isObject()) throw bad(key, QStringLiteral("must be an object"));
    return object.value(key).toObject();
}

InputSpec input_from_json(const QJsonObject& o) {
    require_known(o, QStringLiteral("input"),
                  {"source", "seed", "period", "path", "text", "ids", "pairs", "temperature"});
    InputSpec input;
    const QString source = o.contains("source") ? text(o, "source", "input.") : input_kind_name(input.kind);
    if (source == "random") input.kind = InputKind::Random;
    else if (source == "sinusoid") input.kind = InputKind::Sinusoid;
    else if (source == "feedback") input.kind = InputKind::Feedback;
    else if (source == "file") input.kind = InputKind::File;
    else if (source == "tokens") input.kind = InputKind::Tokens;
    else
        throw bad("input.source",
                  QStringLiteral("is %1, not one of: random, sinusoid, feedback, file, tokens").arg(quoted(source)));
    input.seed = integer(o, "seed", input.seed, "input.", kMaxSeed);
    if (o.contains("period")) {
        input.period = o.value("period").toDouble(-1);
        if (!(input.period > 0 && std::isfinite(input.period)))
            throw bad("input.period", QStringLiteral("must be a positive number of steps"));
    }
    input.path = text(o, "path", "input.");
    if (input.kind == InputKind::File && input.path.isEmpty())
        throw bad("input.path", QStringLiteral("is needed for a file input"));
    input.text = text(o, "text", "input.");
    if (input.text.size() > kMaxTokenText)
        throw bad("input.text", QStringLiteral("is longer than %1 characters").arg(kMaxTokenText));
    if (o.contains("ids")) {
        if (!o.value("ids").isBool()) throw bad("input.ids", QStringLiteral("must be true or false"));
        input.ids = o.value("ids").toBool();
    }
    input.pairs = static_cast<int>(integer(o, "pairs", 0, "input.", 4096));
    if (o.contains("temperature")) {
        input.temperature = o.value("temperature").toDouble(-1);
        if (!(input.temperature >= 0 && input.temperature <= 100))
            throw bad("input.temperature", QStringLiteral("must be a number from 0 (greedy) to 100"));
    }
    if (input.kind == InputKind::Tokens && input.pairs == 0 && input.text.trimmed().isEmpty())
        throw bad("input.text", QStringLiteral("is needed for a token input without a drawn instance (pairs)"));
    return input;
}

MemorySpec memory_from_json(const QJsonObject& o) {
    require_known(o, QStringLiteral("memory"), {"source", "seed", "length", "path"});
    MemorySpec memory;
    const QString source = o.contains("source") ? text(o, "source", "memory.") : memory_kind_name(memory.kind);
    if (source == "random") memory.kind = MemoryKind::Random;
    else if (source == "file") memory.kind = MemoryKind::File;
    else throw bad("memory.source", QStringLiteral("is %1, not one of: random, file").arg(quoted(source)));
    memory.seed = integer(o, "seed", memory.seed, "memory.", kMaxSeed);
    memory.length = static_cast<int>(integer(o, "length", memory.length, "memory.", kMaxMemoryLength));
    if (memory.length < 1) throw bad("memory.length", QStringLiteral("must be at least 1"));
    memory.path = text(o, "path", "memory.");
    if (memory.kind == MemoryKind::File && memory.path.isEmpty())
        throw bad("memory.path", QStringLiteral("is needed for a file memory"));
    return memory;
}

ModelConfig config_from_object(const QJsonObject& object) {
    const QByteArray json = QJsonDocument(object).toJson(QJsonDocument::Compact);
    return config_from_json(json.toStdString());
}

}  // namespace

QString input_kind_name(InputKind kind) {
    switch (kind) {
        case InputKind::Random: return QStringLiteral("random");
        case InputKind::Sinusoid: return QStringLiteral("sinusoid");
        case InputKind::Feedback: return QStringLiteral("feedback");
        case InputKind::File: return QStringLiteral("file");
        case InputKind::Tokens: return QStringLiteral("tokens");
    }
    return {};
}

QString memory_kind_name(MemoryKind kind) {
    return kind == MemoryKind::Random ? QStringLiteral("random") : QStringLiteral("file");
}

QJsonObject session_to_json(const SessionSpec& spec) {
    QJsonObject out;
    out["format"] = kFormat;
    out["version"] = 1;
    out["config"] = QJsonDocument::fromJson(QByteArray::fromStdString(config_to_json(spec.config))).object();
    QJsonObject weights;
    if (spec.weights_path.isEmpty()) weights["seed"] = double(spec.weights_seed);
    else weights["path"] = spec.weights_path;
    out["weights"] = weights;
    QJsonObject input{{"source", input_kind_name(spec.input.kind)}, {"seed", double(spec.input.seed)}};
    if (spec.input.kind == InputKind::Sinusoid) input["period"] = spec.input.period;
    if (spec.input.kind == InputKind::File) input["path"] = spec.input.path;
    if (spec.input.kind == InputKind::Tokens) {
        if (spec.input.pairs > 0) {
            input["pairs"] = spec.input.pairs;
        } else {
            input["text"] = spec.input.text;
            input["ids"] = spec.input.ids;
        }
        input["temperature"] = spec.input.temperature;
    }
    out["input"] = input;
    if (spec.config.kind == ModelKind::Decoder) {
        QJsonObject memory{{"source", memory_kind_name(spec.memory.kind)},
                           {"seed", double(spec.memory.seed)},
                           {"length", spec.memory.length}};
        if (spec.memory.kind == MemoryKind::File) memory["path"] = spec.memory.path;
        out["memory"] = memory;
    }
    out["batch"] = spec.batch;
    out["sequence_seed"] = double(spec.sequence_seed);
    out["observed"] = spec.observed;
    if (!spec.snapshot_path.isEmpty()) out["snapshot"] = spec.snapshot_path;
    out["steps"] = double(spec.steps);
    out["device"] = QString::fromLatin1(device_name(spec.device));
    if (!spec.interventions.empty()) out["interventions"] = interventions_to_json(spec.interventions);
    return out;
}

SessionSpec session_from_json(const QJsonObject& object) {
    require_known(object, {},
                  {"format", "version", "config", "weights", "input", "memory", "batch", "sequence_seed", "observed",
                   "snapshot", "steps", "device", "interventions"});
    if (object.contains("format") && object.value("format").toString() != kFormat)
        throw bad("format", QStringLiteral("must be '%1'").arg(kFormat));
    if (integer(object, "version", 1, {}) != 1) throw bad("version", QStringLiteral("must be 1"));
    if (!object.contains("config")) throw bad("config", QStringLiteral("is missing"));
    SessionSpec spec;
    spec.config = config_from_object(child(object, "config"));
    const QJsonObject weights = child(object, "weights");
    require_known(weights, QStringLiteral("weights"), {"seed", "path"});
    spec.weights_seed = integer(weights, "seed", spec.weights_seed, "weights.", kMaxSeed);
    spec.weights_path = text(weights, "path", "weights.");
    spec.input = input_from_json(child(object, "input"));
    spec.memory = memory_from_json(child(object, "memory"));
    spec.batch = static_cast<int>(integer(object, "batch", spec.batch, {}, kMaxBatch));
    if (spec.batch < 1) throw bad("batch", QStringLiteral("must be at least 1"));
    spec.sequence_seed = integer(object, "sequence_seed", spec.sequence_seed, {}, kMaxSeed);
    spec.observed = static_cast<int>(integer(object, "observed", 0, {}, kMaxBatch - 1));
    spec.snapshot_path = text(object, "snapshot", {});
    spec.steps = static_cast<int64_t>(integer(object, "steps", 0, {}, 1e9));
    if (object.contains("device")) {
        const QString device = text(object, "device", {});
        if (device == "cuda") spec.device = Device::Cuda;
        else if (device != "cpu")
            throw bad("device", QStringLiteral("is %1, not one of: cpu, cuda").arg(quoted(device)));
    }
    if (object.contains("interventions")) spec.interventions = interventions_from_json(object.value("interventions"));
    return spec;
}

QJsonObject session_object_from_file(const QString& path) {
    // A session or config is a few kilobytes: a device, a FIFO or a huge file is refused unread.
    // The application's own resources (":/configs/...") are not on disk.
    constexpr uint64_t kMaxSessionFileBytes = 16 << 20;
    if (!path.startsWith(QStringLiteral(":/")))
        require_regular_file(path.toStdString(), kMaxSessionFileBytes,
                             "Stepscope's limit for session and config files");
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        throw Error(QStringLiteral("%1: cannot open (%2)").arg(path, file.errorString()).toStdString());
    QJsonParseError parse_error;
    const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parse_error);
    if (parse_error.error != QJsonParseError::NoError)
        throw Error(QStringLiteral("%1: not valid JSON at byte %2 (%3)")
                        .arg(path)
                        .arg(parse_error.offset)
                        .arg(parse_error.errorString())
                        .toStdString());
    if (!document.isObject()) throw Error(QStringLiteral("%1: must hold a JSON object").arg(path).toStdString());
    return document.object();
}

SessionSpec single_session_from_object(const QJsonObject& object) {
    if (object.contains("config")) return session_from_json(object);
    SessionSpec spec;
    spec.config = config_from_object(object);
    return spec;
}

SessionSpec session_from_file(const QString& path) {
    const QJsonObject object = session_object_from_file(path);
    try {
        if (object.contains("runs")) return tree_from_json(object).viewed_spec();
        return single_session_from_object(object);
    } catch (const Error& e) {
        throw Error(QStringLiteral("%1: %2").arg(path, QString::fromStdString(e.what())).toStdString());
    }
}

void write_session_file(const QString& path, const SessionSpec& spec) {
    QSaveFile file(path);
    const QByteArray bytes = QJsonDocument(session_to_json(spec)).toJson(QJsonDocument::Indented);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
        throw Error(QStringLiteral("%1: cannot write (%2)").arg(path, file.errorString()).toStdString());
}

SessionSpec seed_example() {
    init_ui_resources();
    return session_from_file(QStringLiteral(":/configs/seed_example.json"));
}

}  // namespace stepscope::ui
