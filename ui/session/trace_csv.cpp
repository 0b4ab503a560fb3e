// Traces as CSV with a header row, written through QSaveFile so a failed write leaves no partial file.
#include "session/trace_csv.h"

#include "session/atomic_files.h"

#include <QStringList>

#include <algorithm>

#include "session/trace_store.h"
#include "stepscope/error.h"

namespace stepscope::ui {

namespace {

Error file_error(const QString& path, const QString& what) {
    return Error(QStringLiteral("%1: %2").arg(path, what).toStdString());
}

// Column names of one attention module's norms, matching the values `module_values` writes.
void module_header(QStringList& columns, const QString& prefix, const ModuleNorms& m, int batch,
                   const AttentionCapabilities* kind) {
    if (!m.present || batch <= 0 || !kind) return;
    const std::vector<float>* norms[] = {&m.first, &m.second};
    for (size_t c = 0; c < std::min<size_t>(2, kind->components.size()); ++c) {
        const QString symbol = QString::fromStdString(kind->components[c].symbol);
        for (size_t h = 0; h < norms[c]->size() / size_t(batch); ++h)
            columns << QStringLiteral("%1_%2norm_h%3").arg(prefix, symbol).arg(h);
    }
    if (state_grows(*kind)) columns << QStringLiteral("%1_cache_length").arg(prefix);
}

// The delta-rule family's columns of layer `l`'s self attention, matching `update_values`; none for other kinds.
void update_header(QStringList& columns, const BatchRecord& r, int l) {
    if (r.updates.empty() || r.batch <= 0) return;
    const size_t heads = r.updates.size() / (r.layers.size() * kUpdates * size_t(r.batch));
    for (const char* name : {"beta", "alpha", "prediction_error"})
        for (size_t h = 0; h < heads; ++h)
            columns << QStringLiteral("L%1_self_%2_h%3").arg(l).arg(QLatin1String(name)).arg(h);
}

void update_values(QTextStream& out, const BatchRecord& r, int l, int n) {
    if (r.updates.empty() || r.batch <= 0) return;
    const size_t heads = r.updates.size() / (r.layers.size() * kUpdates * size_t(r.batch));
    for (size_t q = 0; q < kUpdates; ++q)
        for (size_t h = 0; h < heads; ++h)
            out << ',' << r.updates[((size_t(l) * kUpdates + q) * size_t(r.batch) + size_t(n)) * heads + h];
}

// The norms of element `n` of a module holding (N, H) values.
void module_values(QTextStream& out, const ModuleNorms& m, int n, int batch, const AttentionCapabilities* kind) {
    if (!m.present || !kind) return;
    for (const std::vector<float>* values : {&m.first, &m.second}) {
        const size_t heads = values->size() / size_t(batch);
        for (size_t h = 0; h < heads; ++h) out << ',' << (*values)[size_t(n) * heads + h];
    }
    if (state_grows(*kind)) out << ',' << m.cache_length;
}

// A token as a CSV field: control characters as their escapes, quoted when it holds a comma or a quote.
QString token_field(const TokenModel& model, const TokenStep& step) {
    QString text = QString::fromStdString(model.step_text(step));
    text.replace('\\', QStringLiteral("\\\\"))
        .replace('\n', QStringLiteral("\\n"))
        .replace('\r', QStringLiteral("\\r"))
        .replace('\t', QStringLiteral("\\t"))
        .replace('\f', QStringLiteral("\\f"));
    if (text.contains(',') || text.contains('"')) text = '"' + text.replace('"', QStringLiteral("\"\"")) + '"';
    return text;
}

void token_values(QTextStream& out, const TokenModel& model, const TokenPrediction& p) {
    out << ',' << token_field(model, p.input);
    if (p.top.empty()) out << ",,";
    else out << ',' << token_field(model, {p.top.front().token}) << ',' << p.top.front().probability;
    if (p.target < 0) out << ",,,";
    else out << ',' << token_field(model, {p.target}) << ',' << p.target_probability << ',' << (p.correct ? 1 : 0);
}

}  // namespace

TraceCsvWriter::TraceCsvWriter(const QString& path, const TraceStore& traces)
    : path_(path), width_(traces.width()), tokens_(traces.info().tokens), file_(path) {
    if (traces.has_run()) {
        self_kind_ = &traces.kind(AttentionRole::Self);
        if (traces.decoder()) cross_kind_ = &traces.kind(AttentionRole::Cross);
    }
    if (!file_.open(QIODevice::WriteOnly | QIODevice::Text)) throw file_error(path_, file_.errorString());
    out_.setDevice(&file_);
    out_.setRealNumberPrecision(8);
}

void TraceCsvWriter::write_header(const BatchRecord* first) {
    QStringList columns{"step", "batch", "latency_ms", "state_bytes", "output_norm"};
    const int width = first ? first->width() : width_;
    for (int d = 0; d < width; ++d) columns << QStringLiteral("y%1").arg(d);
    if (first)
        for (size_t l = 0; l < first->layers.size(); ++l) {
            module_header(columns, QStringLiteral("L%1_self").arg(l), first->layers[l].self, first->batch, self_kind_);
            update_header(columns, *first, int(l));
            module_header(columns, QStringLiteral("L%1_cross").arg(l), first->layers[l].cross, first->batch,
                          cross_kind_);
        }
    if (tokens_) columns << QStringList{"token", "prediction", "p_prediction", "answer", "p_answer", "right"};
    out_ << columns.join(',') << '\n';
    header_written_ = true;
}

void TraceCsvWriter::write(const BatchRecord& r) {
    if (!header_written_) write_header(&r);
    const int width = r.width();
    for (int n = 0; n < r.batch; ++n) {
        out_ << r.step << ',' << n << ',' << r.latency_ms << ',' << r.state_bytes << ',' << r.output_norms[size_t(n)];
        for (int d = 0; d < width; ++d) out_ << ',' << r.outputs[size_t(n) * width + d];
        for (size_t l = 0; l < r.layers.size(); ++l) {
            module_values(out_, r.layers[l].self, n, r.batch, self_kind_);
            update_values(out_, r, int(l), n);
            module_values(out_, r.layers[l].cross, n, r.batch, cross_kind_);
        }
        if (tokens_ && n < int(r.tokens.size())) token_values(out_, *tokens_, r.tokens[size_t(n)]);
        out_ << '\n';
    }
}

void TraceCsvWriter::commit() {
    if (!header_written_) write_header(nullptr);
    out_.flush();
    if (out_.status() != QTextStream::Ok || !file_.commit())
        throw file_error(path_, QStringLiteral("cannot write (%1)").arg(write_failure(file_, path_)));
}

void write_traces_csv(const QString& path, const TraceStore& traces) {
    TraceCsvWriter csv(path, traces);
    for (const BatchRecord& r : traces.batch_records()) csv.write(r);
    csv.commit();
}

}  // namespace stepscope::ui
