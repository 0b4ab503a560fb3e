// Entry point: a command by its name; no command opens the explorer where the build has it (STEPSCOPE_GUI).
#include <cstdio>
#include <cstring>
#include <string>

#include "commands.h"
#ifdef STEPSCOPE_HAVE_GUI
#include "gui_script.h"
#endif

namespace {

struct Command {
    const char* name;
    int (*run)(int argc, char** argv);  // argv[0] is the command's name
    const char* summary;
};

// In the order the usage lists them. export draws its plots with Qt Widgets, so only the GUI build has it.
const Command kCommands[] = {
    {"replay", run_replay, "run a model over a sequence file: --model --inputs --output"},
#ifdef STEPSCOPE_HAVE_GUI
    {"export", run_export, "headless plots, traces and snapshot: --config|--session --steps --out"},
#endif
    {"bench", run_bench, "time the recurrent step of the seed example"},
    {"eval", run_eval, "score a token model on its stored evaluation set: --model [--json]"},
    {"generate", run_generate, "continue a prompt with a token model: --model --prompt --steps"},
};

std::string command_names() {
    std::string names;
    for (const Command& command : kCommands) names += (names.empty() ? "" : "|") + std::string(command.name);
    return names;
}

void print_usage() {
    std::printf("usage: stepscope [%s] [options] | --version\n", command_names().c_str());
#ifdef STEPSCOPE_HAVE_GUI
    std::printf("  %-14s%s\n", "(no command)", "open the explorer window");
#endif
    for (const Command& command : kCommands) std::printf("  %-14s%s\n", command.name, command.summary);
#ifndef STEPSCOPE_HAVE_GUI
    std::printf("This build has no explorer window and no export: it was configured with STEPSCOPE_GUI=OFF.\n");
#endif
    std::printf("Each command takes --help.\n");
#ifdef STEPSCOPE_HAVE_GUI
    // The window's own options and scripted actions.
    std::printf("\n%s", qPrintable(stepscope::ui::gui_usage()));
#endif
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2) {
        for (const Command& command : kCommands)
            if (std::strcmp(argv[1], command.name) == 0) return command.run(argc - 1, argv + 1);
        if (std::strcmp(argv[1], "--version") == 0) {
            std::printf("stepscope %s\n", STEPSCOPE_VERSION);
            return 0;
        }
        if (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
            print_usage();
            return 0;
        }
    }
#ifdef STEPSCOPE_HAVE_GUI
    return run_gui(argc, argv);
#else
    if (argc < 2)
        std::fprintf(stderr, "stepscope: give a command (%s); this build has no explorer window (STEPSCOPE_GUI=OFF)\n",
                     command_names().c_str());
    else
        std::fprintf(stderr,
                     "stepscope: '%s' is not a command of this build (%s; export and the window need "
                     "STEPSCOPE_GUI=ON)\n",
                     argv[1], command_names().c_str());
    return 2;
#endif
}
