// The arithmetic probe: a cache-resident float32 product through Linear's dispatched kernels.
#include "stepscope/arithmetic_probe.h"

#include <chrono>

#include "layers/linear.h"

namespace stepscope {

namespace {

// 768 x 768 floats (2.25 MiB) stay in a last-level cache; 512 rows give every panel many rows to reuse it for.
constexpr int kWidth = 768, kRows = 512, kRepeats = 4;

}  // namespace

struct ArithmeticProbe::Product {
    Linear linear;
    RowMatrix x, y;
};

ArithmeticProbe::ArithmeticProbe() : product_(std::make_unique<Product>()) {
    std::srand(1);
    product_->linear = Linear(RowMatrix::Random(kWidth, kWidth), Vector::Zero(kWidth));
    product_->x = RowMatrix::Random(kRows, kWidth);
    product_->linear.forward(product_->x, product_->y);  // sizes y and starts the workers
}

ArithmeticProbe::~ArithmeticProbe() = default;

double ArithmeticProbe::measure() const {
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < kRepeats; ++r) product_->linear.forward(product_->x, product_->y);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return 2.0 * kRows * double(kWidth) * kWidth * kRepeats / seconds;
}

}  // namespace stepscope
