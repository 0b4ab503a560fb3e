// Shared test helpers: the golden folder, one tolerance check that reports the worst element, and small readers.
#pragma once

#include <QtTest>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "stepscope/decoder_memory.h"
#include "stepscope/error.h"
#include "stepscope/model.h"
#include "stepscope/safetensors.h"
#include "stepscope/types.h"

namespace stepscope::testing {

// The golden folder; in CI its absence fails the test rather than skipping it.
inline std::string golden_dir() { return STEPSCOPE_GOLDEN_DIR; }
inline std::string golden_path(const std::string& case_name, const std::string& file) {
    return golden_dir() + "/" + case_name + "/" + file;
}

struct Deviation {
    double worst = 0;   // largest |actual - expected|
    long index = -1;    // where
    double actual = 0;
    double expected = 0;
    bool finite = true;
};

template <typename A, typename B>
Deviation max_deviation(const A& actual, const B& expected, long count) {
    Deviation d;
    for (long i = 0; i < count; ++i) {
        double a = actual[i], e = expected[i];
        if (!std::isfinite(a)) {
            d.finite = false;
            d.index = i;
            return d;
        }
        double diff = std::abs(a - e);
        if (diff > d.worst) d = {diff, i, a, e, true};
    }
    return d;
}

inline std::string describe(const std::string& what, const Deviation& d) {
    std::ostringstream out;
    out << what << ": worst |diff| " << d.worst << " at flat index " << d.index << " (got "
        << d.actual << ", want " << d.expected << ")" << (d.finite ? "" : " NON-FINITE");
    return out.str();
}

// Passes when every |actual - expected| <= absolute + relative * |expected|.
#define STEPSCOPE_COMPARE_CLOSE(what, actual, expected, count, absolute, relative)          \
    do {                                                                                   \
        const auto dev_ = ::stepscope::testing::max_deviation(actual, expected, count);    \
        bool ok_ = dev_.finite;                                                            \
        for (long i_ = 0; ok_ && i_ < (count); ++i_)                                       \
            ok_ = std::abs(double((actual)[i_]) - double((expected)[i_])) <=               \
                  (absolute) + (relative) * std::abs(double((expected)[i_]));              \
        if (!ok_) QFAIL(::stepscope::testing::describe(what, dev_).c_str());               \
    } while (0)

// The message of the Error `body` throws, or "" when it does not throw.
template <typename Body>
QString error_of(Body body) {
    try {
        body();
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

inline std::vector<uint8_t> bytes_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace stepscope::testing
