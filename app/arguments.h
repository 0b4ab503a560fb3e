// Command-line options of the headless subcommands: --name value pairs and --flags, strictly checked.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "stepscope/stepper.h"

namespace stepscope::cli {

// Thrown for a bad command line; main prints it on one line and exits 2.
struct UsageError {
    std::string message;
};

class Arguments {
public:
    // argv[0] is the subcommand. `valued` options take one value, `flags` none,
    // `repeatable` one value each time they are given.
    Arguments(int argc, char** argv, const std::set<std::string>& valued, const std::set<std::string>& flags,
              const std::set<std::string>& repeatable = {});

    bool has(const std::string& name) const { return values_.count(name) > 0; }
    // Every value of a repeatable option, in command-line order.
    std::vector<std::string> texts(const std::string& name) const;
    std::string text(const std::string& name) const;  // required
    std::string text(const std::string& name, const std::string& fallback) const;
    // An integer in [minimum, maximum]; the error names the option.
    long integer(const std::string& name, long fallback, long minimum, long maximum) const;
    // One of `allowed` (the engine's own list of names), `fallback` when absent; the error lists them.
    std::string choice(const std::string& name, const std::string& fallback,
                       const std::vector<std::string>& allowed) const;
    // --device cpu|cuda, CPU when absent; whether CUDA is available is the stepper's to say.
    Device device() const;

private:
    std::map<std::string, std::string> values_;
    std::map<std::string, std::vector<std::string>> repeated_;
};

// Progress of a long run on stderr, for a person waiting: nothing for the first 5 s, then a line
// every 5 s, "stepscope eval: 12000 of 65000 steps (18%)".
class Progress {
public:
    explicit Progress(const char* command) : command_(command) {}
    void operator()(int64_t done, int64_t total);

private:
    const char* command_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

// Runs `body`, turning UsageError and engine errors into "stepscope COMMAND: message" on stderr.
int run_guarded(const char* command, int (*body)(const Arguments&), int argc, char** argv,
                const std::set<std::string>& valued, const std::set<std::string>& flags, const char* usage,
                const std::set<std::string>& repeatable = {});

}  // namespace stepscope::cli
