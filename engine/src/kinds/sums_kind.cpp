// The fixed-size state shared by linear attention and the delta-rule family: checks, snapshots, norms, edits.
#include "kinds/sums_kind.h"

#include "io/snapshot_tensors.h"
#include "layers/step_scratch.h"

namespace stepscope {

AttentionCapabilities SumsKind::sums_capabilities(const std::string& description) const {
    AttentionCapabilities c;
    c.description = description;
    c.normalizer = normalizer_;
    c.map_on_request = true;
    c.components = {{"S", "the memory its queries read, (F, M) per head"}};
    if (normalizer_) c.components.push_back({"Z", "the sum of the keys' features, (F) per head: the normaliser"});
    return c;
}

void SumsKind::start(const InnerAttention& inner, AttentionState& state, int batch) const {
    const long rows = long(batch) * inner.heads();
    LinearAttentionState& sums = state.linear();
    sums.sums = RowMatrix::Zero(rows * inner.feature_dims(), inner.value_dims());
    sums.normalizer = RowMatrix::Zero(rows, normalizer_ ? inner.feature_dims() : 0);
}

void SumsKind::step_features(const InnerAttention& inner, AttentionScratch& s, AttentionState& state,
                             uint64_t sequence_seed, int batch) const {
    const RowMatrix& omega = inner.omega(state, sequence_seed);
    const RowLayout layout{batch, inner.heads(), 1};
    inner.features(s.keys, omega, s.phi_keys, layout);
    inner.features(s.queries, omega, s.phi_queries, layout);
}

std::string SumsKind::misfit(const InnerAttention& inner, const AttentionState& state, int batch) const {
    const long rows = long(batch) * inner.heads();
    const int features = inner.feature_dims();
    const LinearAttentionState* s = state.find<LinearAttentionState>();
    if (!s || s->sums.rows() != rows * features || s->sums.cols() != inner.value_dims() ||
        s->normalizer.rows() != rows || s->normalizer.cols() != (normalizer_ ? features : 0))
        return " sums do not fit the model's heads and dimensions";
    if (inner.omega_columns() && !inner.has_stored_omega() &&
        (state.omega.rows() != inner.query_dims() || state.omega.cols() != inner.omega_columns()))
        return " has no feature-map draw of shape (" + std::to_string(inner.query_dims()) + ", " +
               std::to_string(inner.omega_columns()) + ")";
    return {};
}

void SumsKind::put_tensors(const InnerAttention& inner, const AttentionState& state, int batch, const std::string& name,
                           TensorMap& out) const {
    const LinearAttentionState& s = state.linear();
    const int heads = inner.heads(), features = inner.feature_dims();
    out[name + ".0"] = snapshot::tensor_of(s.sums, {batch, heads, features, inner.value_dims()});
    if (normalizer_) out[name + ".1"] = snapshot::tensor_of(s.normalizer, {batch, heads, features});
}

void SumsKind::get_tensors(const InnerAttention& inner, const TensorMap& tensors, const std::string& name, int batch,
                           AttentionState& state) const {
    const int heads = inner.heads(), features = inner.feature_dims();
    const Tensor& sums = snapshot::require_shape(tensors, name + ".0", 4, {batch, heads, features, inner.value_dims()});
    LinearAttentionState& s = state.linear();
    s.sums = snapshot::matrix(sums, long(batch) * heads * features);
    if (normalizer_) {
        const Tensor& normalizer = snapshot::require_shape(tensors, name + ".1", 3, {batch, heads, features});
        s.normalizer = snapshot::matrix(normalizer, long(batch) * heads);
    } else {
        s.normalizer = RowMatrix(long(batch) * heads, 0);
    }
    if (inner.feature_dims() && !inner.has_stored_omega() && tensors.count(name + ".omega")) {
        const Tensor& omega = snapshot::require_shape(tensors, name + ".omega", 2, {inner.query_dims()});
        state.omega = snapshot::matrix(omega, inner.query_dims());
    }
}

StateNorms SumsKind::norms(const AttentionState& state, int batch, int heads) const {
    StateNorms norms;
    norms.batch = batch;
    norms.heads = heads;
    const int rows = batch * heads;
    const LinearAttentionState* s = state.find<LinearAttentionState>();
    if (!s || s->normalizer.rows() != rows) return norms;
    const long features = rows ? s->sums.rows() / rows : 0;
    norms.components.assign(normalizer_ ? 2 : 1, std::vector<float>(size_t(rows)));
    for (int r = 0; r < rows; ++r) norms.components[0][r] = s->sums.middleRows(long(r) * features, features).norm();
    if (!normalizer_) return norms;
    for (int r = 0; r < rows; ++r) norms.components[1][r] = s->normalizer.row(r).norm();
    return norms;
}

void SumsKind::scale_head(const InnerAttention& inner, AttentionState& state, int batch, int head, float factor) const {
    LinearAttentionState& s = state.linear();
    const int features = inner.feature_dims(), heads = inner.heads();
    for (int n = 0; n < batch; ++n) {
        const long row = long(n) * heads + head;
        s.sums.middleRows(row * features, features) *= factor;
        s.normalizer.row(row) *= factor;
    }
}

void SumsKind::clear(AttentionState& state) const {
    LinearAttentionState& s = state.linear();
    s.sums.setZero();
    s.normalizer.setZero();
}

double SumsKind::state_bytes(const ModuleWidths& m, double batch, int64_t /*steps*/) const {
    const double per_head = m.features * (m.value + (normalizer_ ? 1 : 0));
    return sizeof(float) * (batch * m.heads * per_head + m.query * m.omega_columns);
}

}  // namespace stepscope
