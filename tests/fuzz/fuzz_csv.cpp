// Fuzz target: a CSV input file (one step per row) for a model 2 wide, read and every step taken.
#include <cstddef>
#include <cstdint>

#include "session/input_source.h"
#include "scratch_file.h"
#include "stepscope/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static stepscope::fuzz::ScratchFile scratch(".csv");
    stepscope::ui::SessionSpec spec;
    spec.config.n_heads = 1;
    spec.config.value_dimensions = 2;
    spec.input.kind = stepscope::ui::InputKind::File;
    spec.input.path = QString::fromStdString(scratch.hold(data, size));
    try {
        const stepscope::ui::InputSource source(spec, spec.config);
        stepscope::RowMatrix x;
        // Every step fits the model, and every accepted value is finite as the model sees it (float).
        for (int64_t t = 0; t < *source.length(); ++t) {
            source.input(t, {}, x);
            if (x.rows() != source.batch() || x.cols() != 2 || !x.allFinite()) __builtin_trap();
        }
    } catch (const stepscope::Error&) {
    }
    return 0;
}
