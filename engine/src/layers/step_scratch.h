// Buffers reused by every step of a sequence, so the steady-state step allocates nothing.
#pragma once

#include "stepscope/observer.h"
#include "stepscope/types.h"

namespace stepscope {

// One attention module's buffers. Self and cross attention each have their
// own, so a decoder's alternating shapes never resize them.
struct AttentionScratch {
    RowMatrix projected;    // (N, H*D + H*D + H*M + H*G) fused query/key/value/gate projection; cross: (N, H*D)
    RowMatrix queries;      // (N*H, D)
    RowMatrix keys;         // (N*H, D)
    RowMatrix values;       // (N*H, M)
    RowMatrix gates;        // (G, N*H) the kind's per-head gates (AttentionCapabilities::gates), gate-major
    RowMatrix errors;       // (N*H, M) the delta rules: v - S^T k of this step
    RowMatrix phi_queries;  // (N*H, F)
    RowMatrix phi_keys;     // (N*H, F) or (N*S*H, F) for cross attention
    RowMatrix heads;        // (N*H, M) attention output per head
    RowMatrix weights;      // (N*H, >= T) softmax weights
    StateNorms norms;       // an observed step's, when its kind read them during the step; heads 0 otherwise
};

// A block of T known steps (Model::step_block): the step's buffers over T*N rows.
struct BlockScratch {
    RowMatrix projected;     // (T*N, H*D + H*D + H*M + H*G)
    RowMatrix heads;         // (T*N, H*M) every step's attention output per head, merged
    RowMatrix attended;      // (T*N, E)
    RowMatrix hidden;        // (T*N, d_ff)
    RowMatrix feed_forward;  // (T*N, E)
    // Self attention's heads over the block, rows (t, n, h), for the kinds that take a block at once
    // (AttentionKind::self_block).
    RowMatrix queries;       // (T*N*H, D)
    RowMatrix keys;          // (T*N*H, D)
    RowMatrix values;        // (T*N*H, M)
    RowMatrix gates;         // (G, T*N*H), empty: the kinds that take a block have no gates
    RowMatrix phi_queries;   // (T*N*H, F)
    RowMatrix phi_keys;      // (T*N*H, F)
    RowMatrix head_outputs;  // (T*N*H, M)
};

struct StepScratch {
    RowMatrix x;  // (N, E) the running activation
    AttentionScratch self_attention;
    AttentionScratch cross_attention;
    RowMatrix attended;      // (N, E) after the output projection
    RowMatrix hidden;        // (N, d_ff)
    RowMatrix feed_forward;  // (N, E)
    BlockScratch block;
};

// Resizes only when the shape differs: Eigen's resize reallocates otherwise too.
inline void ensure_shape(RowMatrix& m, Eigen::Index rows, Eigen::Index cols) {
    if (m.rows() != rows || m.cols() != cols) m.resize(rows, cols);
}

}  // namespace stepscope
