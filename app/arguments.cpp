// Strict --option parsing shared by replay, export and bench.
#include "arguments.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <new>

#include "stepscope/error.h"

namespace stepscope::cli {

Arguments::Arguments(int argc, char** argv, const std::set<std::string>& valued, const std::set<std::string>& flags,
                     const std::set<std::string>& repeatable) {
    for (int i = 1; i < argc; ++i) {
        const std::string word = argv[i];
        if (word.rfind("--", 0) != 0) throw UsageError{"unexpected argument " + quote_text(word)};
        const std::string name = word.substr(2);
        if (flags.count(name)) {
            values_[name] = "";
        } else if (repeatable.count(name)) {
            if (i + 1 >= argc) throw UsageError{"option --" + name + " needs a value"};
            repeated_[name].push_back(argv[++i]);
        } else if (valued.count(name)) {
            if (i + 1 >= argc) throw UsageError{"option --" + name + " needs a value"};
            values_[name] = argv[++i];
        } else {
            throw UsageError{"unknown option " + quote_text(word)};
        }
    }
}

std::string Arguments::text(const std::string& name) const {
    const auto found = values_.find(name);
    if (found == values_.end()) throw UsageError{"missing option --" + name};
    return found->second;
}

std::vector<std::string> Arguments::texts(const std::string& name) const {
    const auto found = repeated_.find(name);
    return found == repeated_.end() ? std::vector<std::string>{} : found->second;
}

std::string Arguments::text(const std::string& name, const std::string& fallback) const {
    return has(name) ? text(name) : fallback;
}

std::string Arguments::choice(const std::string& name, const std::string& fallback,
                              const std::vector<std::string>& allowed) const {
    const std::string value = text(name, fallback);
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return value;
    std::string listed;
    for (size_t i = 0; i < allowed.size(); ++i)
        listed += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + allowed[i];
    throw UsageError{"option --" + name + " must be " + listed + ", got " + quote_text(value)};
}

Device Arguments::device() const {
    try {
        return device_from_name(text("device", "cpu"));
    } catch (const Error& e) {
        throw UsageError{std::string("option --device: ") + e.what()};
    }
}

long Arguments::integer(const std::string& name, long fallback, long minimum, long maximum) const {
    if (!has(name)) return fallback;
    const std::string value = text(name);
    try {
        size_t used = 0;
        const long parsed = std::stol(value, &used);
        if (used == value.size() && parsed >= minimum && parsed <= maximum) return parsed;
    } catch (const std::exception&) {
    }
    throw UsageError{"option --" + name + " must be an integer from " + std::to_string(minimum) + " to " +
                     std::to_string(maximum) + ", got " + quote_text(value)};
}

void Progress::operator()(int64_t done, int64_t total) {
    constexpr std::chrono::seconds kEvery{5};
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < kEvery || done >= total) return;
    last_ = now;
    std::fprintf(stderr, "stepscope %s: %lld of %lld steps (%.0f%%)\n", command_, static_cast<long long>(done),
                 static_cast<long long>(total), total > 0 ? 100.0 * double(done) / double(total) : 0.0);
}

int run_guarded(const char* command, int (*body)(const Arguments&), int argc, char** argv,
                const std::set<std::string>& valued, const std::set<std::string>& flags, const char* usage,
                const std::set<std::string>& repeatable) {
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--help") {
            std::printf("%s", usage);
            return 0;
        }
    }
    try {
        return body(Arguments(argc, argv, valued, flags, repeatable));
    } catch (const UsageError& e) {
        std::fprintf(stderr, "stepscope %s: %s\n", command, e.message.c_str());
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "stepscope %s: out of memory; STEPSCOPE_MAX_MEMORY sets the limit Stepscope checks\n",
                     command);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "stepscope %s: %s\n", command, e.what());
    }
    return 2;
}

}  // namespace stepscope::cli
