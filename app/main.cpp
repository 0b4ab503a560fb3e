// Entry point: no arguments opens the explorer; replay, export and bench run headless.
#include <cstdio>
#include <cstring>

#include "commands.h"

int main(int argc, char** argv) {
    if (argc >= 2) {
        const char* command = argv[1];
        if (std::strcmp(command, "replay") == 0) return run_replay(argc - 1, argv + 1);
        if (std::strcmp(command, "export") == 0) return run_export(argc - 1, argv + 1);
        if (std::strcmp(command, "bench") == 0) return run_bench(argc - 1, argv + 1);
        if (std::strcmp(command, "eval") == 0) return run_eval(argc - 1, argv + 1);
        if (std::strcmp(command, "generate") == 0) return run_generate(argc - 1, argv + 1);
        if (std::strcmp(command, "--help") == 0 || std::strcmp(command, "-h") == 0) {
            std::printf(
                "usage: stepscope [replay|export|bench|eval|generate] [options]\n"
                "  (no command)  open the explorer window\n"
                "  replay        run a model over a sequence file: --model --inputs --output\n"
                "  export        headless plots, traces and snapshot: --config|--session --steps --out\n"
                "  bench         time the recurrent step of the seed example\n"
                "  eval          score a token model on its stored evaluation set: --model [--json]\n"
                "  generate      continue a prompt with a token model: --model --prompt --steps\n"
                "Each command takes --help.\n");
            return 0;
        }
    }
    return run_gui(argc, argv);
}
