// The sequence fed to a model one element at a time, and a decoder's memory: generated or read from files.
#pragma once

#include <cstdint>
#include <optional>

#include "session/session_spec.h"
#include "stepscope/model.h"
#include "stepscope/token_model.h"
#include "stepscope/types.h"

namespace stepscope::ui {

class InputSource {
public:
    // Reads and checks the files against `config` (width, batch). Throws stepscope::Error naming the file
    // and what does not fit; generated sources never throw.
    // Token input needs `tokens`, the model's token head: the typed steps are checked against its
    // vocabulary (unknown token, id out of range) or a recall instance is drawn per sequence.
    InputSource(const SessionSpec& spec, const ModelConfig& config, std::shared_ptr<const TokenModel> tokens = nullptr);

    int batch() const { return batch_; }
    // The bytes the source holds: a file's values, drawn prompts and their targets, a memory.
    double bytes() const;
    // Steps the source can give; none for generated sources.
    std::optional<int64_t> length() const;

    // x for sequence element `t`, (N, E). `previous_output` is the model's last output y (N, E):
    // the input itself when outputs are fed back. A feedback source starts from a random x_0 and
    // throws Error when a later step has no previous output. A file source throws past its end.
    void input(int64_t t, const RowMatrix& previous_output, RowMatrix& x) const;

    // Token input: the tokens of step `t` of each sequence (N): the prompt's, then past its end the
    // token the model predicted from `previous_output` (greedy, or sampled at the spec's temperature).
    std::vector<TokenStep> tokens(int64_t t, const RowMatrix& previous_output) const;
    // The task's answer to step `t` of sequence `n` when it was fed `fed`; -1 where nothing is scored
    // (and past the prompt). A recall query edited into another key asks for that key's value.
    int64_t target(int64_t t, int n, const TokenStep& fed) const;
    // Token input: the steps of sequence `n`'s prompt (a drawn instance, or the typed text); 0 otherwise.
    int64_t prompt_length(int n) const;
    // Recall: the (key, value) pairs sequence `n` stored in its first `t` steps.
    std::vector<std::pair<int64_t, int64_t>> stored_pairs(int64_t t, int n) const;
    const std::shared_ptr<const TokenModel>& token_model() const { return token_model_; }

    // A decoder's memory (N, S, E_mem); null for encoders.
    const Memory* memory() const { return decoder_ ? &memory_ : nullptr; }

private:
    InputSpec spec_;
    int batch_ = 0;
    int width_ = 0;
    int64_t steps_ = 0;          // file sources
    std::vector<float> values_;  // file sources: (T, N, E) row-major
    bool decoder_ = false;
    Memory memory_;
    std::shared_ptr<const TokenModel> token_model_;
    // The prompt of sequence `n`: a drawn instance of its own, or the typed steps all share.
    const std::vector<TokenStep>& prompt_of(int n) const;

    std::vector<std::vector<TokenStep>> prompts_;  // token input: (N) drawn prompts, or one typed
    std::vector<std::vector<int64_t>> targets_;    // the answers to each prompt step, as prompts_
};

// Typed token ids: steps separated by whitespace, the ids of a step joined with '+' ("12+140 12+256").
// Throws Error naming the first word that is not an id of the vocabulary of `size` tokens.
std::vector<TokenStep> parse_token_ids(const std::string& text, int size);

// Uniform values in [0, 1) that depend only on (seed, stream, index): the same element of the same
// sequence is the same number wherever a replay starts.
float uniform(uint64_t seed, uint64_t stream, uint64_t index);

}  // namespace stepscope::ui
