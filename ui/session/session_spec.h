// What reproduces a run exactly: config, weights source, input and memory sources, seeds and steps taken.
#pragma once

#include <QJsonObject>
#include <QString>

#include <cstdint>
#include <vector>

#include "session/intervention_spec.h"
#include "stepscope/config.h"
#include "stepscope/stepper.h"

namespace stepscope::ui {

// What a session may hold is what the forms can show, so opening a session and pressing Apply
// never changes a value behind the user's back.
constexpr uint64_t kMaxSeed = 2147483647;  // the forms' spin boxes hold an int
constexpr int kMaxBatch = 1024;
constexpr int kMaxMemoryLength = 4096;

enum class InputKind { Random, Sinusoid, Feedback, File, Tokens };
constexpr int kMaxTokenText = 65536;  // characters of typed tokens a session may hold
enum class MemoryKind { Random, File };

struct InputSpec {
    InputKind kind = InputKind::Feedback;
    uint64_t seed = 1;   // random values; with Feedback, the first input
    double period = 32;  // Sinusoid: steps per cycle
    QString path;        // File: safetensors x (T, N, E) or CSV, one step per row
    // Tokens (a model with a token head): the prompt, then generation from the model's predictions,
    // greedy or sampled at `temperature` from `seed`.
    QString text;  // typed steps: text, or token ids when `ids` ("12+140 12+256")
    bool ids = false;
    int pairs = 0;           // > 0: a fresh recall instance of this many pairs per sequence, drawn from `seed`
    double temperature = 0;  // 0: greedy
};

// A decoder's memory: random with a random valid length per sequence, or a file.
struct MemorySpec {
    MemoryKind kind = MemoryKind::Random;
    uint64_t seed = 2;
    int length = 16;  // S, for random memory
    QString path;     // File: safetensors memory (N, S, E_mem), optional memory_lengths (N) I64
};

struct SessionSpec {
    ModelConfig config;
    QString weights_path;  // empty: random weights drawn from weights_seed
    uint64_t weights_seed = 1;
    InputSpec input;
    MemorySpec memory;
    int batch = 10;  // N, unless the input file fixes it
    uint64_t sequence_seed = 0;
    int observed = 0;                         // the batch element the plots follow
    QString snapshot_path;                    // non-empty: the run continued from this snapshot
    int64_t steps = 0;                        // steps taken after the start
    Device device = Device::Cpu;              // where the model steps
    std::vector<Intervention> interventions;  // a branch: what it changes, in the order applied
};

QString input_kind_name(InputKind kind);
QString memory_kind_name(MemoryKind kind);

// The session as a JSON object (config as the engine writes it).
QJsonObject session_to_json(const SessionSpec& spec);

// Strict: unknown keys, wrong types and impossible values throw stepscope::Error naming the key;
// the config goes through the engine's own validation.
SessionSpec session_from_json(const QJsonObject& object);

// A session file, or a plain builder config (a JSON object without "config") with session defaults.
SessionSpec session_from_file(const QString& path);
// The JSON object of a session or config file, read within Stepscope's size limit; throws Error naming the path
// for a file that is not one (not regular, too large, not JSON, not an object).
QJsonObject session_object_from_file(const QString& path);
// A one-run session's object, or a bare config's; throws Error.
SessionSpec single_session_from_object(const QJsonObject& object);
void write_session_file(const QString& path, const SessionSpec& spec);

// The seed example of the reference's README, from the application resources.
SessionSpec seed_example();

}  // namespace stepscope::ui
