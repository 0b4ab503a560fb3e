// The bfloat16 conversion both devices share (engine/src/bfloat16.h): the CPU packs its weights with it and
// the CUDA backend rounds its uploads with it, so this runs the CUDA path's rounding on the host.
#include <QtTest>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/bfloat16.h"

namespace {

float float_of(uint32_t bits) {
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

uint32_t bits_of(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits;
}

}  // namespace

class Bfloat16Test : public QObject {
    Q_OBJECT

private slots:
    // Payloads whose low half would carry into the exponent (0x7fff8000 + 0x8000) or the sign (0xffffffff + 1).
    void nan_stays_nan_data() {
        QTest::addColumn<uint32_t>("bits");
        QTest::newRow("quiet") << 0x7fc00000u;
        QTest::newRow("signalling, payload only in the low half") << 0x7f800001u;
        QTest::newRow("all ones") << 0x7fffffffu;
        QTest::newRow("negative all ones") << 0xffffffffu;
        QTest::newRow("carry into the exponent") << 0x7fff8000u;
        QTest::newRow("negative quiet") << 0xffc00000u;
    }

    void nan_stays_nan() {
        QFETCH(uint32_t, bits);
        QVERIFY(std::isnan(stepscope::round_to_bf16(float_of(bits))));
        QVERIFY(std::isnan(stepscope::from_bf16(stepscope::to_bf16(float_of(bits)))));
    }

    void infinities_and_zeros_keep_their_sign() {
        const float inf = std::numeric_limits<float>::infinity();
        QCOMPARE(stepscope::round_to_bf16(inf), inf);
        QCOMPARE(stepscope::round_to_bf16(-inf), -inf);
        QCOMPARE(bits_of(stepscope::round_to_bf16(0.0f)), 0x00000000u);
        QCOMPARE(bits_of(stepscope::round_to_bf16(-0.0f)), 0x80000000u);
    }

    // bfloat16 keeps the upper 16 bits; the lower 16 decide the rounding, a tie going to the even neighbour.
    void rounds_to_nearest_ties_to_even_data() {
        QTest::addColumn<uint32_t>("bits");
        QTest::addColumn<uint32_t>("rounded");
        QTest::newRow("exact") << 0x3f810000u << 0x3f810000u;
        QTest::newRow("below half") << 0x3f807fffu << 0x3f800000u;
        QTest::newRow("tie, even below") << 0x3f808000u << 0x3f800000u;
        QTest::newRow("above half") << 0x3f808001u << 0x3f810000u;
        QTest::newRow("tie, odd below") << 0x3f818000u << 0x3f820000u;
        QTest::newRow("negative tie, odd below") << 0xbf818000u << 0xbf820000u;
        QTest::newRow("carry into the exponent") << 0x3fffffffu << 0x40000000u;
        QTest::newRow("largest finite float overflows") << 0x7f7fffffu << 0x7f800000u;
        QTest::newRow("largest bfloat16 stays") << 0x7f7f0000u << 0x7f7f0000u;
        QTest::newRow("smallest subnormal flushes") << 0x00000001u << 0x00000000u;
    }

    void rounds_to_nearest_ties_to_even() {
        QFETCH(uint32_t, bits);
        QFETCH(uint32_t, rounded);
        QCOMPARE(bits_of(stepscope::round_to_bf16(float_of(bits))), rounded);
        QCOMPARE(uint32_t(stepscope::to_bf16(float_of(bits))) << 16, rounded);
    }
};

QTEST_APPLESS_MAIN(Bfloat16Test)
#include "test_bfloat16.moc"
