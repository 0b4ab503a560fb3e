// The token head around a recurrent transformer: loading and checking it, embedding, readout.
#include "stepscope/token_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "core/parameters.h"
#include "layers/linear.h"
#include "stepscope/error.h"
#include "stepscope/memory_budget.h"

namespace stepscope {

namespace {

const std::string kEvaluationPrefix = "evaluation.";

bool is_head_tensor(const std::string& name) {
    return name == "embedding.weight" || name == "positions.weight" || name == "shift.weight" ||
           name == "readout.weight" || name == "readout.bias";
}

// A float tensor of rank 2 whose second dimension is d_model, or an Error naming it.
RowMatrix head_matrix(const TensorMap& tensors, const std::string& name, int64_t width) {
    const Tensor& tensor = tensors.at(name);
    if (tensor.dtype == DType::I64 || tensor.shape.size() != 2 || tensor.shape[1] != width || tensor.shape[0] < 1)
        throw Error("tensor '" + name + "' has shape " + tensor.shape_string() + ", expected (rows, " +
                    std::to_string(width) + ") of floats");
    return matrix_of(tensor);
}

std::vector<std::string> parse_vocabulary(const std::string& text) {
    nlohmann::json list;
    try {
        list = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
        throw Error("__metadata__.vocabulary is not valid JSON");
    }
    if (!list.is_array() || list.empty()) throw Error("__metadata__.vocabulary must be a non-empty JSON list");
    std::vector<std::string> vocabulary;
    std::set<std::string> seen;
    for (const auto& entry : list) {
        if (!entry.is_string() || entry.get<std::string>().empty())
            throw Error("__metadata__.vocabulary entry " + std::to_string(vocabulary.size()) +
                        " is not a non-empty string");
        if (!seen.insert(entry.get<std::string>()).second)
            throw Error("__metadata__.vocabulary repeats the token " + quote_text(entry.get<std::string>()));
        vocabulary.push_back(entry.get<std::string>());
    }
    return vocabulary;
}

// Byte length of the UTF-8 character starting with `lead` (1 for a stray byte).
size_t utf8_length(unsigned char lead) {
    if (lead >= 0xF0 && lead < 0xF8) return 4;
    if (lead >= 0xE0) return lead < 0xF0 ? 3 : 1;
    if (lead >= 0xC0) return 2;
    return 1;
}

std::vector<std::string> utf8_characters(const std::string& text) {
    std::vector<std::string> characters;
    for (size_t i = 0; i < text.size();) {
        const size_t length = std::min(utf8_length(static_cast<unsigned char>(text[i])), text.size() - i);
        characters.push_back(text.substr(i, length));
        i += length;
    }
    return characters;
}

}  // namespace

bool TokenModel::has_token_head(const SafetensorsFile& file) { return file.tensors.count("embedding.weight") > 0; }

std::shared_ptr<const TokenModel> TokenModel::from_file(const SafetensorsFile& file, const ModelConfig* requested) {
    const auto config_text = file.metadata.find("config");
    if (config_text == file.metadata.end()) throw Error("no builder config in __metadata__.config");
    ModelConfig config = config_from_json(config_text->second);
    if (requested) config = stored_as_requested(config, *requested);
    if (config.kind != ModelKind::Encoder) throw Error("a token head needs an encoder, the config is a decoder");
    if (!has_token_head(file)) throw Error("no token head: the file has no embedding.weight");
    if (!file.tensors.count("readout.weight")) throw Error("the token head has no readout.weight");
    const auto vocabulary_text = file.metadata.find("vocabulary");
    if (vocabulary_text == file.metadata.end()) throw Error("the token head has no __metadata__.vocabulary");

    std::shared_ptr<TokenModel> model(new TokenModel());
    TensorMap transformer;
    for (const auto& [name, tensor] : file.tensors) {
        if (name.compare(0, kEvaluationPrefix.size(), kEvaluationPrefix) == 0)
            model->evaluation_.emplace(name.substr(kEvaluationPrefix.size()), tensor);
        else if (!is_head_tensor(name)) transformer.emplace(name, tensor);
    }
    // The transformer as the engine holds it, and the head's matrices, within the memory limit.
    check_parameters(config, transformer);
    double head_bytes = 0;
    for (const auto& [name, tensor] : file.tensors)
        if (is_head_tensor(name)) head_bytes += 2.0 * sizeof(float) * double(tensor.values.size());
    require_model_fits(config);
    require_memory(estimate_model_bytes(config) + head_bytes, "this token model");
    model->transformer_ = Model::from_tensors(config, transformer);

    const int width = config.d_model();
    model->vocabulary_ = parse_vocabulary(vocabulary_text->second);
    const auto vocabulary_size = static_cast<int64_t>(model->vocabulary_.size());
    model->embedding_ = head_matrix(file.tensors, "embedding.weight", width);
    const RowMatrix readout = head_matrix(file.tensors, "readout.weight", width);
    if (file.tensors.count("shift.weight")) model->shift_ = head_matrix(file.tensors, "shift.weight", width);
    for (const char* name : {"embedding.weight", "readout.weight", "shift.weight"})
        if (file.tensors.count(name) && file.tensors.at(name).shape[0] != vocabulary_size)
            throw Error(std::string("tensor '") + name + "' has " + std::to_string(file.tensors.at(name).shape[0]) +
                        " rows, the vocabulary " + std::to_string(vocabulary_size) + " tokens");
    if (file.tensors.count("positions.weight"))
        model->positions_ = head_matrix(file.tensors, "positions.weight", width);
    Vector readout_bias = Vector::Zero(vocabulary_size);
    if (const auto bias = file.tensors.find("readout.bias"); bias != file.tensors.end()) {
        if (bias->second.dtype == DType::I64 || bias->second.shape != std::vector<int64_t>{vocabulary_size})
            throw Error("tensor 'readout.bias' is " + std::string(dtype_name(bias->second.dtype)) + " of shape " +
                        bias->second.shape_string() + ", expected F32 or BF16 of shape (" +
                        std::to_string(vocabulary_size) + ")");
        readout_bias = vector_of(bias->second);
    }
    model->readout_ = std::make_shared<const Linear>(readout, readout_bias);

    model->characters_ = true;
    for (const std::string& token : model->vocabulary_)
        model->characters_ = model->characters_ && utf8_characters(token).size() == 1;
    if (const auto task = file.metadata.find("task"); task != file.metadata.end()) {
        nlohmann::json object;
        try {
            object = nlohmann::json::parse(task->second);
        } catch (const nlohmann::json::exception&) {
            throw Error("__metadata__.task is not valid JSON");
        }
        if (!object.is_object()) throw Error("__metadata__.task must be a JSON object");
        if (object.contains("name") && !object["name"].is_string())
            throw Error("__metadata__.task name must be a string");
        model->task_json_ = task->second;
        model->task_name_ = object.value("name", "");
    }
    model->metadata_ = file.metadata;
    return model;
}

std::shared_ptr<const TokenModel> TokenModel::load(const std::string& path, const ModelConfig* requested) {
    const SafetensorsFile file = read_safetensors(path);
    try {
        return from_file(file, requested);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
}

int64_t TokenModel::token_id(const std::string& token) const {
    for (size_t id = 0; id < vocabulary_.size(); ++id)
        if (vocabulary_[id] == token) return static_cast<int64_t>(id);
    throw Error("token " + quote_text(token) + " is not in the model's vocabulary");
}

std::vector<TokenStep> TokenModel::tokenize(const std::string& text) const {
    std::vector<TokenStep> steps;
    if (characters_) {
        for (const std::string& character : utf8_characters(text)) steps.push_back({token_id(character)});
        return steps;
    }
    std::string word;
    auto flush = [&] {
        if (word.empty()) return;
        TokenStep tokens;
        size_t begin = 0;
        for (size_t plus = word.find('+');; plus = word.find('+', begin)) {
            tokens.push_back(token_id(word.substr(begin, plus == std::string::npos ? plus : plus - begin)));
            if (plus == std::string::npos) break;
            begin = plus + 1;
        }
        steps.push_back(tokens);
        word.clear();
    };
    for (const char c : text) {
        if (std::isspace(static_cast<unsigned char>(c))) flush();
        else word += c;
    }
    flush();
    return steps;
}

std::string TokenModel::step_text(const TokenStep& tokens) const {
    std::string text;
    for (const int64_t id : tokens) {
        if (!text.empty()) text += '+';
        text += id >= 0 && id < vocabulary_size() ? vocabulary_[id] : "<" + std::to_string(id) + ">";
    }
    return text;
}

void TokenModel::embed(const std::vector<TokenStep>& tokens, int64_t step, RowMatrix& x,
                       const std::vector<TokenStep>* previous) const {
    if (positions() > 0 && step >= positions())
        // `step` counts from 0; the explorer numbers steps from 1, so the refusal names the step it shows.
        throw Error("step " + std::to_string(step + 1) + " is past the model's " + std::to_string(positions()) +
                    " learned positions (steps 1 to " + std::to_string(positions()) + ")");
    const bool shifted = token_shift() && step > 0;
    if (shifted && (!previous || previous->size() != tokens.size()))
        throw Error("this model's token shift needs the tokens of step " + std::to_string(step - 1) +
                    " of every sequence");
    auto add_rows = [&](const RowMatrix& table, const TokenStep& ids, long n) {
        for (const int64_t id : ids) {
            if (id < 0 || id >= vocabulary_size())
                throw Error("token id " + std::to_string(id) + " is outside the vocabulary 0.." +
                            std::to_string(vocabulary_size() - 1));
            x.row(n) += table.row(id);
        }
    };
    x.resize(static_cast<long>(tokens.size()), embedding_.cols());
    for (size_t n = 0; n < tokens.size(); ++n) {
        if (tokens[n].empty()) throw Error("sequence " + std::to_string(n) + " has no token at this step");
        x.row(n) = positions() > 0 ? RowVector(positions_.row(step)) : RowVector::Zero(embedding_.cols());
        add_rows(embedding_, tokens[n], long(n));
        if (shifted) add_rows(shift_, (*previous)[n], long(n));
    }
}

void TokenModel::readout(const ConstMatrixRef& y, RowMatrix& logits) const { readout_->forward(y, logits); }

RowMatrix TokenModel::probabilities(const ConstMatrixRef& logits) {
    RowMatrix p = (logits.colwise() - logits.rowwise().maxCoeff()).array().exp();
    p.array().colwise() /= p.rowwise().sum().array();
    return p;
}

void TokenModel::step(const std::vector<TokenStep>& tokens, State& state, RowMatrix& logits, StepObserver* observer,
                      const std::vector<TokenStep>* previous) const {
    RowMatrix x, y;
    embed(tokens, state.step, x, previous);
    transformer_->step(x, state, y, observer);
    readout(y, logits);
}

void TokenModel::step_block(const std::vector<std::vector<TokenStep>>& steps, State& state, RowMatrix& logits,
                            const std::vector<TokenStep>* previous) const {
    if (steps.empty()) throw Error("a block needs at least one step");
    const long batch = long(steps.front().size()), count = long(steps.size());
    RowMatrix xs(count * batch, embedding_.cols()), x, ys;
    for (long t = 0; t < count; ++t) {
        if (long(steps[size_t(t)].size()) != batch)
            throw Error("step " + std::to_string(state.step + t) + " of the block has " +
                        std::to_string(steps[size_t(t)].size()) + " sequences, its first " + std::to_string(batch));
        embed(steps[size_t(t)], state.step + t, x, t == 0 ? previous : &steps[size_t(t) - 1]);
        xs.middleRows(t * batch, batch) = x;
    }
    transformer_->step_block(xs, static_cast<int>(count), state, ys);
    readout(ys, logits);
}

}  // namespace stepscope
