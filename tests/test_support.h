// Shared test helpers: the golden folder, one tolerance check that reports the worst element, and small readers.
#pragma once

#include <QtTest>

#include <algorithm>
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

// The golden cases (../shared/golden) and the tolerance each is held to against the reference.
struct GoldenCase {
    const char* name;
    double tolerance;
    bool on_cuda;  // the CUDA backend runs it (it has no random feature maps)
};

inline const std::vector<GoldenCase>& golden_cases() {
    static const std::vector<GoldenCase> cases = {
        {"enc_linear", 1e-4, true},
        {"enc_full", 1e-4, true},
        // 100 fed-back steps compound rounding; the golden README allows 5e-4.
        {"enc_linear_feedback", 5e-4, true},
        {"enc_favor", 1e-4, false},
        {"dec_linear", 1e-4, true},
        {"dec_full", 1e-4, true},
        // The delta-rule family: CUDA refuses these kinds until it has their kernels.
        {"enc_delta", 1e-4, false},
        {"enc_gated_delta", 1e-4, false},
        {"enc_gated_linear", 1e-4, false},
    };
    return cases;
}

// A `_data` slot's rows: one per golden case, columns "name" (QString) and "tolerance" (double).
inline void add_golden_rows(bool cuda_only = false) {
    QTest::addColumn<QString>("name");
    QTest::addColumn<double>("tolerance");
    for (const GoldenCase& golden : golden_cases())
        if (golden.on_cuda || !cuda_only) QTest::newRow(golden.name) << QString(golden.name) << golden.tolerance;
}

struct Deviation {
    double worst = 0;  // largest |actual - expected|
    long index = -1;   // where
    double actual = 0;
    double expected = 0;
    bool finite = true;
};

// A container's values in row-major order: a std::vector, or an Eigen matrix, vector or block.
template <typename T>
std::vector<double> values_of(const std::vector<T>& values) {
    return {values.begin(), values.end()};
}

template <typename Derived>
std::vector<double> values_of(const Eigen::DenseBase<Derived>& matrix) {
    std::vector<double> values;
    values.reserve(size_t(matrix.size()));
    for (Eigen::Index r = 0; r < matrix.rows(); ++r)
        for (Eigen::Index c = 0; c < matrix.cols(); ++c) values.push_back(double(matrix(r, c)));
    return values;
}

// The largest |actual - expected| over the values both containers hold, or the first non-finite value.
template <typename A, typename B>
Deviation max_deviation(const A& actual_values, const B& expected_values) {
    const std::vector<double> actual = values_of(actual_values), expected = values_of(expected_values);
    Deviation d;
    for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
        const double a = actual[i], e = expected[i];
        if (!std::isfinite(a)) {
            d.finite = false;
            d.index = long(i);
            return d;
        }
        const double diff = std::abs(a - e);
        if (diff > d.worst) d = {diff, long(i), a, e, true};
    }
    return d;
}

inline std::string describe(const std::string& what, const Deviation& d) {
    std::ostringstream out;
    out << what << ": worst |diff| " << d.worst << " at flat index " << d.index << " (got " << d.actual << ", want "
        << d.expected << ")" << (d.finite ? "" : " NON-FINITE");
    return out.str();
}

inline std::string describe_sizes(const std::string& what, size_t actual, size_t expected) {
    return what + ": " + std::to_string(actual) + " values, want " + std::to_string(expected);
}

// The value furthest past its bound absolute + relative * |expected|, as a multiple of that bound
// (above 1 fails): the element to report, which need not be the largest |diff| when values differ in size.
struct Violation {
    double ratio = 0;
    long index = -1;
    double actual = 0, expected = 0, bound = 0;
};

inline Violation worst_violation(const std::vector<double>& actual, const std::vector<double>& expected,
                                 double absolute, double relative) {
    Violation v;
    for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
        const double bound = absolute + std::abs(expected[i]) * relative;
        const double ratio = std::abs(actual[i] - expected[i]) / bound;
        if (ratio > v.ratio) v = {ratio, long(i), actual[i], expected[i], bound};
    }
    return v;
}

inline std::string describe(const std::string& what, const Deviation& d, const Violation& v) {
    std::ostringstream out;
    out << describe(what, d) << "; furthest past its bound at flat index " << v.index << " (got " << v.actual
        << ", want " << v.expected << ", bound " << v.bound << ", " << v.ratio << "x)";
    return out.str();
}

// Passes when both containers hold as many values and every |actual - expected| <= absolute +
// relative * |expected|. Containers: std::vector, Eigen matrices and blocks, compared in row-major order.
#define STEPSCOPE_COMPARE_CLOSE(what, actual, expected, absolute, relative)                                    \
    do {                                                                                                       \
        const std::vector<double> actual_ = ::stepscope::testing::values_of(actual);                           \
        const std::vector<double> expected_ = ::stepscope::testing::values_of(expected);                       \
        if (actual_.size() != expected_.size())                                                                \
            QFAIL(::stepscope::testing::describe_sizes(what, actual_.size(), expected_.size()).c_str());       \
        const auto dev_ = ::stepscope::testing::max_deviation(actual_, expected_);                             \
        if (!dev_.finite) QFAIL(::stepscope::testing::describe(what, dev_).c_str());                           \
        const auto violation_ = ::stepscope::testing::worst_violation(actual_, expected_, absolute, relative); \
        if (violation_.ratio > 1) QFAIL(::stepscope::testing::describe(what, dev_, violation_).c_str());       \
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

// Sets STEPSCOPE_MAX_MEMORY for one scope, restoring what was there.
class LimitScope {
public:
    explicit LimitScope(const QByteArray& value) : had_(qEnvironmentVariableIsSet("STEPSCOPE_MAX_MEMORY")) {
        previous_ = qgetenv("STEPSCOPE_MAX_MEMORY");
        qputenv("STEPSCOPE_MAX_MEMORY", value);
    }
    ~LimitScope() {
        if (had_) qputenv("STEPSCOPE_MAX_MEMORY", previous_);
        else qunsetenv("STEPSCOPE_MAX_MEMORY");
    }
    LimitScope(const LimitScope&) = delete;
    LimitScope& operator=(const LimitScope&) = delete;

private:
    bool had_;
    QByteArray previous_;
};

#ifdef STEPSCOPE_MODELS_DIR
// A shipped demo model's path (resources/models/).
inline std::string demo_path(const std::string& name) { return std::string(STEPSCOPE_MODELS_DIR) + "/" + name; }
#endif

}  // namespace stepscope::testing
