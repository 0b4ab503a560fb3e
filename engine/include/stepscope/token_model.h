// A token model: a recurrent transformer encoder behind a token head (embedding, positions, readout).
//
//   auto model = TokenModel::load("resources/models/recall_softmax.safetensors");
//   State state = model->transformer().new_state();
//   RowMatrix logits;
//   model->step({{model->token_id("k3"), model->token_id("v9")}}, state, logits);  // one step, N = 1
//
// The file holds, besides the reference's transformer tensors:
//   embedding.weight (V, E)   token embedding; the tokens of one step add up
//   positions.weight (P, E)   optional learned absolute positions, added at step t
//   shift.weight     (V, E)   optional token shift: the previous step's tokens, added (none at step 0)
//   readout.weight   (V, E)   logits = readout.weight y + readout.bias
//   readout.bias     (V)      optional
//   __metadata__.vocabulary   the V token strings, a JSON list
//   __metadata__.task         optional JSON object describing the task (name, layout, ...)
// and, optionally, a stored evaluation set under `evaluation.` (token_tasks.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "stepscope/model.h"
#include "stepscope/observer.h"
#include "stepscope/safetensors.h"
#include "stepscope/state.h"
#include "stepscope/types.h"

namespace stepscope {

class Linear;

// The token ids of one step of one sequence, whose embeddings add up (a recall
// pair puts its key and its value at one position).
using TokenStep = std::vector<int64_t>;

class TokenModel {
public:
    // Throws Error naming the problem for a file without a token head or
    // vocabulary, a head whose shapes disagree with the config or the
    // vocabulary, a decoder, or a malformed task.
    // With `requested`, the file's transformer must have its architecture and is held at its
    // precision and cache precision (stored_as_requested, config.h).
    static std::shared_ptr<const TokenModel> from_file(const SafetensorsFile& file,
                                                       const ModelConfig* requested = nullptr);
    static std::shared_ptr<const TokenModel> load(const std::string& path, const ModelConfig* requested = nullptr);

    // Whether a file carries a token head (embedding.weight).
    static bool has_token_head(const SafetensorsFile& file);

    const Model& transformer() const { return *transformer_; }
    std::shared_ptr<const Model> shared_transformer() const { return transformer_; }

    int vocabulary_size() const { return static_cast<int>(vocabulary_.size()); }
    const std::vector<std::string>& vocabulary() const { return vocabulary_; }
    // Learned positions P; 0 when the model has none (then any step is allowed).
    int positions() const { return static_cast<int>(positions_.rows()); }
    // Whether each step also embeds the previous step's tokens (shift.weight).
    bool token_shift() const { return shift_.rows() > 0; }
    // The task JSON object text, "" when the file has none; its "name", "" when absent.
    const std::string& task_json() const { return task_json_; }
    const std::string& task_name() const { return task_name_; }
    // The file's metadata (trained values, training notes), verbatim.
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    // Stored tensors under `evaluation.`, their prefix removed.
    const TensorMap& evaluation_tensors() const { return evaluation_; }

    // The id of a vocabulary string; throws Error naming an unknown token.
    int64_t token_id(const std::string& token) const;
    // Whether every token is a single character (UTF-8 code point).
    bool character_vocabulary() const { return characters_; }
    // Text to steps: one character per step for a character vocabulary, else
    // whitespace-separated steps whose tokens join with '+' ("k3+v9 k3+?").
    std::vector<TokenStep> tokenize(const std::string& text) const;
    // A step as text: its tokens joined with '+'.
    std::string step_text(const TokenStep& tokens) const;

    // Embedding of step `step` for N sequences: sum of the tokens' embedding
    // rows plus positions.weight[step], plus for a token-shift model after step 0
    // the shift.weight rows of `previous` (the N sequences' tokens of step - 1)
    // -> (N, E). Throws Error for an empty step, an id outside 0..V-1, a step at
    // or past P, or a token-shift model past step 0 without `previous`.
    void embed(const std::vector<TokenStep>& tokens, int64_t step, RowMatrix& x,
               const std::vector<TokenStep>* previous = nullptr) const;
    // y (N, E) -> logits (N, V).
    void readout(const ConstMatrixRef& y, RowMatrix& logits) const;
    // Row-wise softmax of logits (N, V), computed stably.
    static RowMatrix probabilities(const ConstMatrixRef& logits);

    // One step of N sequences: embed at state.step (with `previous`, the tokens
    // of the step before, for a token-shift model), the transformer, the
    // readout. Throws Error leaving `state` unchanged.
    void step(const std::vector<TokenStep>& tokens, State& state, RowMatrix& logits, StepObserver* observer = nullptr,
              const std::vector<TokenStep>* previous = nullptr) const;
    // T known steps at once, steps[t] the N sequences' tokens of step state.step + t: every step embedded,
    // the transformer over the block (Model::step_block: each product once over the block's rows), one
    // readout -> logits (T*N, V), rows (t, n); the same as T calls of step(), bit for bit.
    // `previous` as step()'s for the block's first step. Throws Error leaving `state` unchanged.
    void step_block(const std::vector<std::vector<TokenStep>>& steps, State& state, RowMatrix& logits,
                    const std::vector<TokenStep>* previous = nullptr) const;

private:
    TokenModel() = default;

    std::shared_ptr<const Model> transformer_;
    RowMatrix embedding_;  // (V, E)
    RowMatrix positions_;  // (P, E), P may be 0
    RowMatrix shift_;      // (V, E), or empty without a token shift
    // (V, E) and its bias (zeros when the file has none), in the dense layers' panels: each row's logits are
    // summed in the same order however many rows a call reads, so a block's equal its steps'.
    std::shared_ptr<const Linear> readout_;
    std::vector<std::string> vocabulary_;
    bool characters_ = false;
    std::string task_json_, task_name_;
    std::map<std::string, std::string> metadata_;
    TensorMap evaluation_;
};

}  // namespace stepscope
