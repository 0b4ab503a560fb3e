// Input generation (random, sinusoid, fed-back output) and input/memory files (safetensors, CSV).
#include "session/input_source.h"

#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>

#include <charconv>
#include <cmath>
#include <string_view>

#include "stepscope/decoder_memory.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"
#include "stepscope/regular_file.h"
#include "stepscope/safetensors.h"
#include "stepscope/token_tasks.h"

namespace stepscope::ui {

namespace {

constexpr double kTwoPi = 6.283185307179586;
constexpr uint64_t kFirstInputStream = 1, kRandomInputStream = 2, kMemoryStream = 3, kLengthStream = 4,
                   kGenerationStream = 5;

uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// A path in a message: it may come from a session file, so it is quoted, escaped and cut (error.h).
QString quoted_path(const QString& path) { return QString::fromStdString(quote_text(path.toStdString())); }

Error file_error(const QString& path, const QString& what) {
    return Error(QStringLiteral("%1: %2").arg(quoted_path(path), what).toStdString());
}

// The longest CSV cell read: a number needs far fewer characters; a longer one is not a number.
constexpr size_t kMaxCsvCell = 256;

// One CSV cell as a number, the way the C locale writes one (an optional sign, digits, a point,
// an exponent; inf and nan parse, to be refused as not finite).
bool csv_number(std::string_view cell, double& value) {
    while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) cell.remove_prefix(1);
    while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
    if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);
    if (cell.empty() || cell.front() == '+') return false;
    const auto [end, error] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
    return error == std::errc() && end == cell.data() + cell.size();
}

// CSV: one sequence element per row, N*E numbers in (n, e) order; rows that are not numeric before
// the first numeric one are a header and skipped. Lines end in LF, CRLF or CR alone.
//
// Read in blocks, a cell at a time: what it holds is the floats and one row of them, never the text
// as strings (a 50 MB line once took 1.9 GB as a list of strings).
std::vector<float> read_csv(const QString& path, int width, int64_t& steps, int& batch) {
    // The floats take at most twice the file's bytes ("0," is 2 bytes, a float 4), and the vector
    // growing by doubling as much again.
    constexpr uint64_t kBytesPerFileByte = 4;
    require_regular_file(path.toStdString(), memory_limit() / kBytesPerFileByte,
                         "a quarter of the memory limit, for a CSV input");
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) throw file_error(path, file.errorString());
    std::vector<float> values, row;
    std::string cell;
    bool numeric = true, previous_cr = false, line_has_text = false;
    long columns = -1, line_number = 1;
    steps = 0;
    auto end_cell = [&] {
        if (!numeric) return;
        double value = 0;
        if (!csv_number(cell, value)) {
            numeric = false;
            return;
        }
        // Checked as the float32 the model reads: 1e39 is finite as a double, infinite as a float.
        const float narrowed = static_cast<float>(value);
        if (!std::isfinite(narrowed))
            throw file_error(path, QStringLiteral("line %1, column %2: %3 is not a finite float32 number")
                                       .arg(line_number)
                                       .arg(row.size() + 1)
                                       .arg(QString::fromStdString(quote_text(cell))));
        row.push_back(narrowed);
    };
    auto end_line = [&] {
        if (line_has_text) {
            end_cell();
            if (!numeric) {
                if (columns >= 0 || steps != 0)
                    throw file_error(
                        path, QStringLiteral("line %1 has a value that is not a finite number").arg(line_number));
            } else {
                if (columns < 0) {
                    columns = static_cast<long>(row.size());
                    if (columns > long(kMaxBatch) * width)
                        throw file_error(path, QStringLiteral("rows hold %1 values, more than a run's %2 sequences of "
                                                              "width %3")
                                                   .arg(columns)
                                                   .arg(kMaxBatch)
                                                   .arg(width));
                }
                if (static_cast<long>(row.size()) != columns)
                    throw file_error(path, QStringLiteral("line %1 has %2 values, earlier lines %3")
                                               .arg(line_number)
                                               .arg(row.size())
                                               .arg(columns));
                values.insert(values.end(), row.begin(), row.end());
                ++steps;
            }
        }
        row.clear();
        cell.clear();
        numeric = true;
        line_has_text = false;
        ++line_number;
    };
    std::vector<char> block(1 << 20);
    for (bool first = true;; first = false) {
        const qint64 read = file.read(block.data(), qint64(block.size()));
        if (read < 0) throw file_error(path, file.errorString());
        if (read == 0) break;
        // A UTF-8 byte order mark, as spreadsheets write one, is not part of the first cell.
        const qint64 from = first && read >= 3 && std::string_view(block.data(), 3) == "\xEF\xBB\xBF" ? 3 : 0;
        for (qint64 i = from; i < read; ++i) {
            const char c = block[size_t(i)];
            if (c == '\n' && previous_cr) {  // the LF of a CRLF
                previous_cr = false;
                continue;
            }
            previous_cr = c == '\r';
            if (c == '\n' || c == '\r') {
                end_line();
            } else if (c == ',') {
                end_cell();
                cell.clear();
                line_has_text = true;
            } else if (numeric) {
                if (c != ' ' && c != '\t') line_has_text = true;
                // A cell too long for a number is not one; the rest of the line need not be kept.
                if (cell.size() < kMaxCsvCell) cell += c;
                else numeric = false;
            }
        }
    }
    end_line();
    if (steps == 0) throw file_error(path, QStringLiteral("holds no rows of numbers"));
    if (columns % width != 0)
        throw file_error(path, QStringLiteral("rows have %1 values; the model needs a multiple of its width %2 "
                                              "(batch elements side by side)")
                                   .arg(columns)
                                   .arg(width));
    batch = static_cast<int>(columns / width);
    return values;
}

std::vector<float> read_safetensors_x(const QString& path, int width, int64_t& steps, int& batch) {
    const SafetensorsFile file = read_safetensors(path.toStdString());
    const auto found = file.tensors.find("x");
    if (found == file.tensors.end()) throw file_error(path, QStringLiteral("has no tensor 'x' (T, N, E)"));
    const Tensor& x = found->second;
    if (x.dtype == DType::I64 || x.shape.size() != 3)
        throw file_error(path, QStringLiteral("tensor 'x' must be a float tensor (T, N, E), got %1")
                                   .arg(QString::fromStdString(x.shape_string())));
    if (x.shape[2] != width)
        throw file_error(path,
                         QStringLiteral("tensor 'x' is %1 wide, the model's d_model is %2").arg(x.shape[2]).arg(width));
    if (x.shape[0] < 1 || x.shape[1] < 1 || x.shape[1] > kMaxBatch)
        throw file_error(path, QStringLiteral("tensor 'x' %1 needs at least one step and 1 to %2 sequences")
                                   .arg(QString::fromStdString(x.shape_string()))
                                   .arg(kMaxBatch));
    steps = x.shape[0];
    batch = static_cast<int>(x.shape[1]);
    return x.values;
}

Memory memory_from_file(const QString& path, int batch, int width) {
    const SafetensorsFile file = read_safetensors(path.toStdString());
    Memory memory = decoder_memory(file.tensors, path.toStdString());
    if (memory.batch != batch || memory.values.cols() != width)
        throw file_error(path, QStringLiteral("tensor 'memory' is %1; the run needs (%2, S, %3)")
                                   .arg(QString::fromStdString(file.tensors.at("memory").shape_string()))
                                   .arg(batch)
                                   .arg(width));
    return memory;
}

Memory random_memory(const MemorySpec& spec, int batch, int width) {
    constexpr double kMaxValues = 256.0 * 1024 * 1024;  // 1 GiB of floats
    if (double(batch) * spec.length * width > kMaxValues)
        throw Error("a random memory of " + std::to_string(batch) + " x " + std::to_string(spec.length) + " x " +
                    std::to_string(width) + " values is too large; shorten it or reduce the batch");
    Memory memory;
    memory.batch = batch;
    memory.length = spec.length;
    memory.values.resize(long(batch) * spec.length, width);
    for (long i = 0; i < memory.values.size(); ++i)
        memory.values.data()[i] = 2 * uniform(spec.seed, kMemoryStream, i) - 1;
    memory.lengths.resize(batch);
    for (int n = 0; n < batch; ++n)
        memory.lengths[n] = 1 + static_cast<int64_t>(uniform(spec.seed, kLengthStream, n) * spec.length);
    return memory;
}

}  // namespace

std::vector<TokenStep> parse_token_ids(const std::string& text, int size) {
    std::vector<TokenStep> steps;
    for (const QString& word : QString::fromStdString(text).split(QRegularExpression("\\s+"), Qt::SkipEmptyParts)) {
        TokenStep step;
        for (const QString& part : word.split('+')) {
            bool ok = false;
            const qlonglong id = part.toLongLong(&ok);
            if (!ok || id < 0 || id >= size)
                throw Error("token id " + quote_text(part.toStdString()) + " is not one of 0.." +
                            std::to_string(size - 1));
            step.push_back(id);
        }
        steps.push_back(step);
    }
    return steps;
}

float uniform(uint64_t seed, uint64_t stream, uint64_t index) {
    const uint64_t bits = splitmix64(splitmix64(seed ^ splitmix64(stream)) + index);
    return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

InputSource::InputSource(const SessionSpec& spec, const ModelConfig& config, std::shared_ptr<const TokenModel> tokens)
    : spec_(spec.input), batch_(spec.batch), width_(config.d_model()), token_model_(std::move(tokens)) {
    if (spec_.kind == InputKind::Tokens) {
        if (!token_model_)
            throw Error("token input needs a model with a token head (Open demo model, or Load weights)");
        if (spec_.pairs > 0) {
            // The drawn prompts are held whole: counted, with the model, before any is drawn.
            require_memory(estimate_model_bytes(token_model_->transformer().config()) +
                               double(std::max(batch_, 0)) * estimate_recall_instance_bytes(*token_model_, spec_.pairs),
                           std::to_string(batch_) + " recall instances of " + std::to_string(spec_.pairs) + " pairs");
            for (int n = 0; n < std::max(batch_, 0); ++n) {
                TaskInstance instance =
                    draw_recall_instance(*token_model_, spec_.pairs, spec_.seed + uint64_t(n) * 0x9E3779B97F4A7C15ULL);
                prompts_.push_back(std::move(instance.steps));
                targets_.push_back(std::move(instance.targets));
            }
        } else {
            // Typed steps are every sequence's: held once.
            const std::string text = spec_.text.toStdString();
            prompts_.push_back(spec_.ids ? parse_token_ids(text, token_model_->vocabulary_size())
                                         : token_model_->tokenize(text));
            if (prompts_.front().empty()) throw Error("no tokens typed");
            targets_.push_back(task_targets(*token_model_, prompts_.front()));
        }
    }
    if (spec_.kind == InputKind::File) {
        const QString suffix = QFileInfo(spec_.path).suffix().toLower();
        values_ = suffix == "csv" ? read_csv(spec_.path, width_, steps_, batch_)
                                  : read_safetensors_x(spec_.path, width_, steps_, batch_);
    }
    if (batch_ < 1) throw Error("the batch must hold at least one sequence");
    decoder_ = config.kind == ModelKind::Decoder;
    if (!decoder_) return;
    const int memory_width = config.effective_cross_model_dimensions();
    memory_ = spec.memory.kind == MemoryKind::File ? memory_from_file(spec.memory.path, batch_, memory_width)
                                                   : random_memory(spec.memory, batch_, memory_width);
}

double InputSource::bytes() const {
    double held = double(values_.capacity()) * sizeof(float) + double(memory_.values.size()) * sizeof(float);
    for (const auto& prompt : prompts_) held += double(prompt.size()) * kRecallStepBytes;
    for (const auto& targets : targets_) held += double(targets.size()) * sizeof(int64_t);
    return held;
}

std::optional<int64_t> InputSource::length() const {
    if (spec_.kind == InputKind::File) return steps_;
    return std::nullopt;
}

std::vector<TokenStep> InputSource::tokens(int64_t t, const RowMatrix& previous_output) const {
    std::vector<TokenStep> steps;
    RowMatrix logits;
    for (int n = 0; n < batch_; ++n) {
        const auto& prompt = prompt_of(n);
        if (t < int64_t(prompt.size())) {
            steps.push_back(prompt[size_t(t)]);
            continue;
        }
        if (previous_output.rows() != batch_)
            throw Error("the prompt ends at step " + std::to_string(prompt.size()) + " and the prediction of step " +
                        std::to_string(t - 1) + " is not known");
        token_model_->readout(previous_output.row(n), logits);
        const double u = uniform(spec_.seed, kGenerationStream, uint64_t(t) * uint64_t(batch_) + uint64_t(n));
        steps.push_back({choose_token(logits, spec_.temperature, u)});
    }
    return steps;
}

int64_t InputSource::prompt_length(int n) const {
    return prompts_.empty() || n < 0 || n >= batch_ ? 0 : int64_t(prompt_of(n).size());
}

const std::vector<TokenStep>& InputSource::prompt_of(int n) const {
    return prompts_[prompts_.size() == 1 ? 0 : size_t(n)];
}

int64_t InputSource::target(int64_t t, int n, const TokenStep& fed) const {
    if (prompts_.empty() || n < 0 || n >= batch_ || t < 0 || t >= int64_t(prompt_of(n).size())) return -1;
    const auto& prompt = prompt_of(n);
    const auto& targets = targets_[prompts_.size() == 1 ? 0 : size_t(n)];
    if (fed == prompt[size_t(t)] || token_model_->task_name() != "recall") return targets[size_t(t)];
    std::vector<TokenStep> steps(prompt.begin(), prompt.begin() + t);
    steps.push_back(fed);
    return task_targets(*token_model_, steps).back();
}

std::vector<std::pair<int64_t, int64_t>> InputSource::stored_pairs(int64_t t, int n) const {
    if (prompts_.empty() || n < 0 || n >= batch_) return {};
    return stepscope::stored_pairs(*token_model_, prompt_of(n), size_t(std::max<int64_t>(t, 0)));
}

void InputSource::input(int64_t t, const RowMatrix& previous_output, RowMatrix& x) const {
    if (spec_.kind == InputKind::Tokens) {
        token_model_->embed(tokens(t, previous_output), t, x);
        return;
    }
    x.resize(batch_, width_);
    const long count = x.size();
    switch (spec_.kind) {
        case InputKind::Feedback:
            if (previous_output.size()) {
                x = previous_output;
                return;
            }
            if (t != 0)
                throw Error("outputs are fed back, but the output of step " + std::to_string(t - 1) +
                            " is not known; choose another input source");
            for (long i = 0; i < count; ++i) x.data()[i] = uniform(spec_.seed, kFirstInputStream, i);
            return;
        case InputKind::Random:
            for (long i = 0; i < count; ++i)
                x.data()[i] = uniform(spec_.seed, kRandomInputStream, uint64_t(t) * count + i);
            return;
        case InputKind::Sinusoid:
            // Each (sequence, feature) gets its own phase so the features are not all equal.
            for (long i = 0; i < count; ++i)
                x.data()[i] = static_cast<float>(std::sin(kTwoPi * (double(t) / spec_.period + double(i) / count)));
            return;
        case InputKind::File:
            if (t >= steps_)
                throw Error(QStringLiteral("%1 holds %2 steps; step %3 is past its end")
                                .arg(quoted_path(spec_.path))
                                .arg(steps_)
                                .arg(t + 1)
                                .toStdString());
            x = Eigen::Map<const RowMatrix>(values_.data() + t * count, batch_, width_);
            return;
        case InputKind::Tokens: return;  // embedded above
    }
}

}  // namespace stepscope::ui
