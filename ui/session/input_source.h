// The sequence fed to a model one element at a time, and a decoder's memory: generated or read from files.
#pragma once

#include <cstdint>
#include <optional>

#include "session/session_spec.h"
#include "stepscope/model.h"
#include "stepscope/types.h"

namespace stepscope::ui {

class InputSource {
public:
    // Reads and checks the files against `config` (width, batch). Throws stepscope::Error naming the file
    // and what does not fit; generated sources never throw.
    InputSource(const SessionSpec& spec, const ModelConfig& config);

    int batch() const { return batch_; }
    // Steps the source can give; none for generated sources.
    std::optional<int64_t> length() const;

    // x for sequence element `t`, (N, E). `previous_output` is the model's last output y (N, E):
    // the input itself when outputs are fed back. A feedback source starts from a random x_0 and
    // throws Error when a later step has no previous output. A file source throws past its end.
    void input(int64_t t, const RowMatrix& previous_output, RowMatrix& x) const;

    // A decoder's memory (N, S, E_mem); null for encoders.
    const Memory* memory() const { return decoder_ ? &memory_ : nullptr; }

private:
    InputSpec spec_;
    int batch_ = 0;
    int width_ = 0;
    int64_t steps_ = 0;           // file sources
    std::vector<float> values_;   // file sources: (T, N, E) row-major
    bool decoder_ = false;
    Memory memory_;
};

// Uniform values in [0, 1) that depend only on (seed, stream, index): the same element of the same
// sequence is the same number wherever a replay starts.
float uniform(uint64_t seed, uint64_t stream, uint64_t index);

}  // namespace stepscope::ui
