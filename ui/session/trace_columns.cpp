// A run's own steps in fixed chunks of blocks and heads.
#include "session/trace_columns.h"

#include <algorithm>
#include <cstring>

namespace stepscope::ui {

namespace {

// A chunk's size: large enough that its pointer and allocation cost nothing per step, small enough
// that the one being filled wastes little.
constexpr std::size_t kChunkBytes = std::size_t(1) << 20;

StepHead copy_of(const StepHead& head) {
    StepHead out;
    out.step = head.step;
    out.latency_ms = head.latency_ms;
    out.state_bytes = head.state_bytes;
    out.has_updates = head.has_updates;
    out.observed = head.observed;
    if (head.observations) out.observations = std::make_unique<StepObservations>(*head.observations);
    return out;
}

}  // namespace

TraceColumns::TraceColumns(const TraceColumns& other) { *this = other; }

TraceColumns& TraceColumns::operator=(const TraceColumns& other) {
    if (this == &other) return *this;
    layout_ = other.layout_;
    chunk_steps_ = other.chunk_steps_;
    size_ = other.size_;
    chunks_.clear();
    for (const auto& chunk : other.chunks_) {
        auto copy = std::make_unique<Chunk>();
        copy->blocks.reserve(chunk->blocks.capacity());
        copy->blocks = chunk->blocks;
        copy->heads.reserve(chunk_steps_);
        for (const StepHead& head : chunk->heads) copy->heads.push_back(copy_of(head));
        chunks_.push_back(std::move(copy));
    }
    return *this;
}

void TraceColumns::clear() {
    chunks_.clear();
    size_ = 0;
}

void TraceColumns::push_back(const BatchRecord& record) {
    if (size_ == 0) {
        layout_ = StepLayout::of(record);
        chunk_steps_ = std::max<std::size_t>(16, kChunkBytes / layout_.step_bytes());
    }
    if (size_ == chunks_.size() * chunk_steps_) {
        auto chunk = std::make_unique<Chunk>();
        chunk->blocks.reserve(chunk_steps_ * layout_.floats());
        chunk->heads.reserve(chunk_steps_);
        chunks_.push_back(std::move(chunk));
    }
    Chunk& chunk = *chunks_.back();
    const std::size_t floats = layout_.floats();
    chunk.blocks.resize(chunk.blocks.size() + floats);  // within what was reserved: nothing moves
    layout_.pack(record, chunk.blocks.data() + chunk.blocks.size() - floats);
    chunk.heads.push_back(StepLayout::head(record));
    ++size_;
}

void TraceColumns::move_step(std::size_t from, std::size_t to) {
    head(to) = std::move(head(from));
    std::memcpy(block(to), block(from), layout_.floats() * sizeof(float));
}

void TraceColumns::truncate(std::size_t count) {
    if (count >= size_) return;
    const std::size_t chunks = (count + chunk_steps_ - 1) / chunk_steps_;
    chunks_.resize(chunks);
    if (chunks > 0) {
        Chunk& last = *chunks_.back();
        const std::size_t held = count - (chunks - 1) * chunk_steps_;
        last.heads.erase(last.heads.begin() + long(held), last.heads.end());
        last.blocks.resize(held * layout_.floats());
    }
    size_ = count;
}

std::size_t TraceColumns::bytes() const {
    // The steps held; a chunk's unfilled reserve is address space, not memory, until it is written.
    return size_ * layout_.step_bytes() + chunks_.size() * sizeof(Chunk) + chunks_.capacity() * sizeof(chunks_[0]);
}

}  // namespace stepscope::ui
