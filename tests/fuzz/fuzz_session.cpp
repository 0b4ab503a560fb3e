// Fuzz target: a session file (or a bare builder config) read as the GUI and `export --session` read it.
#include <QString>

#include <cstddef>
#include <cstdint>

#include "scratch_file.h"
#include "session/session_spec.h"
#include "stepscope/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static stepscope::fuzz::ScratchFile scratch(".json");
    const QString path = QString::fromStdString(scratch.hold(data, size));
    try {
        const stepscope::ui::SessionSpec spec = stepscope::ui::session_from_file(path);
        // An accepted session writes and reads back as the same run.
        const stepscope::ui::SessionSpec again = stepscope::ui::session_from_json(stepscope::ui::session_to_json(spec));
        if (again.config != spec.config || again.steps != spec.steps || again.batch != spec.batch) __builtin_trap();
    } catch (const stepscope::Error&) {
    }
    return 0;
}
