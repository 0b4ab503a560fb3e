// The steady-state step allocates nothing: every malloc of the process is counted during steps 50..100.
//
// This executable replaces malloc and its siblings (glibc allows it, and the
// dynamic linker binds Eigen, oneTBB and operator new to them), forwarding to
// glibc's own allocator and counting calls while a step runs.
// oneTBB before Qt: Qt defines `emit`, a name oneTBB uses.
#include <tbb/parallel_for.h>

#include <QtTest>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <string>

#include "stepscope/intervention.h"
#include "stepscope/attention_kind.h"
#include "stepscope/model.h"
#include "test_support.h"

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define STEPSCOPE_COUNTS_ALLOCATIONS 1
#endif

namespace {

std::atomic<bool> counting{false};
std::atomic<long> allocations{0};

inline void note_allocation() {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

#ifdef STEPSCOPE_COUNTS_ALLOCATIONS
extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* pointer, size_t size);
void* __libc_memalign(size_t alignment, size_t size);

void* malloc(size_t size) {
    note_allocation();
    return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
    note_allocation();
    return __libc_calloc(count, size);
}
void* realloc(void* pointer, size_t size) {
    note_allocation();
    return __libc_realloc(pointer, size);
}
void* memalign(size_t alignment, size_t size) {
    note_allocation();
    return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
    note_allocation();
    return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
    note_allocation();
    void* pointer = __libc_memalign(alignment, size);
    if (!pointer) return ENOMEM;
    *out = pointer;
    return 0;
}
}
#endif

using namespace stepscope;

namespace {

constexpr int kFirstCounted = 50, kSteps = 100;

// The seed example's structure (post-norm relu layers, final norm) with the
// sizes given; the full size runs its products on oneTBB workers.
ModelConfig seed_example(ModelKind kind, const std::string& attention, int layers, int heads, int dims, int d_ff) {
    ModelConfig config;
    config.kind = kind;
    config.attention_type = config.self_attention_type = attention;
    // A kind that is self attention only cross-attends linearly.
    config.cross_attention_type = attention_capabilities(attention).cross ? attention : "linear";
    config.n_layers = layers;
    config.n_heads = heads;
    config.query_dimensions = config.value_dimensions = dims;
    config.feed_forward_dimensions = d_ff;
    return config;
}

struct Counted {
    long allocations = 0;    // in steps that did not grow a key/value cache
    long growing_steps = 0;  // steps that grew one (full attention; geometric, so rare)
};

// Runs kSteps fed-back steps and counts allocations from step kFirstCounted on.
Counted count_allocations(const Model& model, int batch, const Ablation* ablation = nullptr) {
    const ModelConfig& config = model.config();
    const bool decoder = config.kind == ModelKind::Decoder;
    Memory memory;
    if (decoder) {
        memory.batch = batch;
        memory.length = 7;
        std::srand(2);
        memory.values = RowMatrix::Random(long(batch) * memory.length, config.effective_cross_model_dimensions());
    }
    State state = model.new_state(3);
    std::srand(1);
    RowMatrix x = RowMatrix::Random(batch, config.d_model()), y;
    auto capacities = [&] {
        long total = 0;
        for (const LayerState& layer : state.layers) total += layer.self_attention.cache().capacity();
        return total;
    };
    Counted counted;
    for (int t = 0; t < kSteps; ++t) {
        const long capacity_before = capacities();
        allocations = 0;
        counting = t >= kFirstCounted;
        if (decoder) model.step(x, memory, state, y, StepOptions{nullptr, nullptr, ablation});
        else model.step(x, state, y, StepOptions{nullptr, nullptr, ablation});
        counting = false;
        x.swap(y);
        if (t < kFirstCounted) continue;
        if (capacities() != capacity_before) ++counted.growing_steps;
        else counted.allocations += allocations;
    }
    return counted;
}

}  // namespace

class NoAllocationTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
#ifndef STEPSCOPE_COUNTS_ALLOCATIONS
        QSKIP("counting allocations needs glibc without sanitizers");
#endif
        // oneTBB starts its workers on first use, which allocates; a small
        // model may first go parallel only once its cache is long (step ~50).
        std::atomic<long> sink{0};
        tbb::parallel_for(0, 1 << 12, [&](int i) { sink += i; });
    }

    void steady_state_step_allocates_nothing_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("attention");
        QTest::addColumn<int>("layers");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("dims");
        QTest::addColumn<int>("d_ff");
        QTest::addColumn<int>("batch");
        QTest::addColumn<QString>("precision");
        QTest::addColumn<QString>("cache_precision");
        const int encoder = int(ModelKind::Encoder), decoder = int(ModelKind::Decoder);
        QTest::newRow("small linear encoder") << encoder << "linear" << 2 << 4 << 8 << 64 << 10 << "f32"
                                              << "f32";
        QTest::newRow("small full encoder") << encoder << "full" << 2 << 4 << 8 << 64 << 10 << "f32"
                                            << "f32";
        QTest::newRow("small linear decoder") << decoder << "linear" << 2 << 4 << 8 << 64 << 3 << "f32"
                                              << "f32";
        QTest::newRow("small full decoder") << decoder << "full" << 2 << 4 << 8 << 64 << 3 << "f32"
                                            << "f32";
        QTest::newRow("seed example, batch 1") << encoder << "linear" << 8 << 12 << 32 << 1536 << 1 << "f32"
                                               << "f32";
        QTest::newRow("seed example, batch 10") << encoder << "linear" << 8 << 12 << 32 << 1536 << 10 << "f32"
                                                << "f32";
        // q8 quantises each input into a per-thread buffer, grown once.
        QTest::newRow("small linear decoder, q8") << decoder << "linear" << 2 << 4 << 8 << 64 << 3 << "q8"
                                                  << "f32";
        QTest::newRow("seed example, batch 10, q8") << encoder << "linear" << 8 << 12 << 32 << 1536 << 10 << "q8"
                                                    << "f32";
        // A bfloat16 cache grows as a float one does.
        QTest::newRow("small full encoder, bf16 cache") << encoder << "full" << 2 << 4 << 8 << 64 << 10 << "f32"
                                                        << "bf16";
        QTest::newRow("small full decoder, bf16 cache") << decoder << "full" << 2 << 4 << 8 << 64 << 3 << "f32"
                                                        << "bf16";
        // Every registered kind, with each weight format.
        for (const std::string& attention : attention_kind_names())
            for (const char* precision : {"f32", "bf16", "q8"}) {
                const QString name = QString::fromStdString(attention);
                QTest::newRow(qPrintable("registry: " + name + " encoder, " + precision))
                    << encoder << name << 2 << 4 << 8 << 64 << 10 << precision << "f32";
                QTest::newRow(qPrintable("registry: " + name + " decoder, " + precision))
                    << decoder << name << 2 << 4 << 8 << 64 << 3 << precision << "f32";
            }
    }

    void steady_state_step_allocates_nothing() {
        QFETCH(int, kind);
        QFETCH(QString, attention);
        QFETCH(int, layers);
        QFETCH(int, heads);
        QFETCH(int, dims);
        QFETCH(int, d_ff);
        QFETCH(int, batch);
        QFETCH(QString, precision);
        QFETCH(QString, cache_precision);
        ModelConfig config = seed_example(ModelKind(kind), attention.toStdString(), layers, heads, dims, d_ff);
        config.precision = precision.toStdString();
        config.cache_precision = cache_precision.toStdString();
        const auto model = Model::create_random(config, 1);
        const Counted counted = count_allocations(*model, batch);
        QCOMPARE(counted.allocations, 0L);
        // Capacity doubles: from step 50 to 100 a cache grows at most once (at 64).
        QVERIFY(counted.growing_steps <= 1);
    }

    // Silencing heads is a mask applied in place: an ablated run allocates nothing either.
    void ablated_step_allocates_nothing() {
        Ablation ablation;
        ablation.heads = {{0, 1}, {1, 3, 60}, {1, 0, 0, AttentionRole::Cross}};
        for (const char* attention : {"linear", "full"}) {
            const auto model = Model::create_random(seed_example(ModelKind::Decoder, attention, 2, 4, 8, 64), 1);
            const Counted counted = count_allocations(*model, 3, &ablation);
            QCOMPARE(counted.allocations, 0L);
        }
    }
};

QTEST_APPLESS_MAIN(NoAllocationTest)
#include "test_no_allocation.moc"
