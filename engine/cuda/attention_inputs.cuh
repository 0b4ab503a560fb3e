// The inputs the attention kernels share: where a step's projected heads lie, and the head shape.
#pragma once

namespace stepscope::cuda {

// N batch, H heads, D query/key width, M value width; head row r = n*H + h.
struct HeadShape {
    int batch;
    int heads;
    int query_dims;
    int value_dims;
};

// A step's projection straight from cuBLAS, not yet split into heads nor
// biased: row n of `projected` (N, width) holds query head h at columns
// query_offset + h*D, key head h at key_offset + h*D and value head h at
// value_offset + h*M, and `bias` (width) is added by the kernel that reads
// them, saving a pass. A negative key_offset means the step has no key and
// value (cross attention reads a state built from its memory).
struct ProjectedHeads {
    const float* projected;
    const float* bias;
    int width;
    int query_offset;
    int key_offset;
    int value_offset;
};

}  // namespace stepscope::cuda
