// The machine's arithmetic rate as a step's dense layers reach it: float32 multiply-adds through the same
// dispatched kernels, on a weight that stays in cache and enough rows to keep the units busy.
//
//   ArithmeticProbe probe;                        // packs a 768 x 768 weight once
//   const double flops_per_second = probe.measure();
#pragma once

#include <memory>

namespace stepscope {

class Linear;

class ArithmeticProbe {
public:
    ArithmeticProbe();
    ~ArithmeticProbe();
    // Runs the product a few times on every oneTBB worker and returns floating-point operations per second
    // (a multiply-add counts two).
    double measure() const;

private:
    struct Product;
    std::unique_ptr<Product> product_;
};

}  // namespace stepscope
