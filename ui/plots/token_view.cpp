// The token table: rows for the most recent steps up to the viewed one, filled from the records.
#include "plots/token_view.h"

#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "plots/token_ticker.h"

namespace stepscope::ui {

namespace {

// Rows the step table holds: the steps before the viewed one, enough to follow an instance.
constexpr int kRows = 256;
constexpr int kPredictionsColumn = 2, kChangeColumn = 5;
constexpr int kTextShown = 120;
const QColor kRight(0x2e, 0x7d, 0x32), kWrong(0xc6, 0x28, 0x28);

QTableWidgetItem* item(const QString& text, Qt::Alignment alignment = Qt::AlignLeft | Qt::AlignVCenter) {
    auto* cell = new QTableWidgetItem(text);
    cell->setTextAlignment(alignment);
    return cell;
}

// A read-only table whose columns fit their contents, `stretched` taking the width left.
QTableWidget* table(const QStringList& headers, int stretched) {
    auto* t = new QTableWidget(0, int(headers.size()));
    t->setHorizontalHeaderLabels(headers);
    t->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    t->horizontalHeader()->setSectionResizeMode(stretched, QHeaderView::Stretch);
    t->setTextElideMode(Qt::ElideRight);
    t->verticalHeader()->setVisible(false);
    t->verticalHeader()->setDefaultSectionSize(t->fontMetrics().height() + 4);
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    return t;
}

}  // namespace

QString predictions_text(const TokenModel& model, const TokenPrediction& prediction) {
    QStringList parts;
    for (const Prediction& p : prediction.top)
        parts << QStringLiteral("%1 %2").arg(shown_tokens(model, {p.token})).arg(p.probability, 0, 'f', 2);
    return parts.join(QStringLiteral(" · "));
}

TokenView::TokenView(const TraceStore* current, QWidget* parent)
    : QWidget(parent),
      current_(current),
      summary_(new QLabel),
      steps_(table({tr("Step"), tr("Input"), tr("Predicted next (top 5, p)"), tr("Answer"), tr("Right"),
                    tr("Δp vs original")},
                   kPredictionsColumn)),
      retrieval_side_(new QWidget),
      retrieval_summary_(new QLabel),
      retrieval_(table({tr("Key"), tr("Value"), tr("p(value)"), tr("Right")}, 3)) {
    summary_->setWordWrap(true);
    summary_->setTextFormat(Qt::PlainText);  // text models read '<' and '&' too
    retrieval_summary_->setWordWrap(true);
    retrieval_summary_->setToolTip(
        tr("Each pair stored so far, queried as key+? from a copy of the state after the "
           "viewed step: the probability the model gives its value, and whether the value "
           "is its most probable answer"));
    auto* left = new QWidget;
    auto* left_layout = new QVBoxLayout(left);
    left_layout->setContentsMargins(0, 0, 0, 0);
    left_layout->addWidget(summary_);
    left_layout->addWidget(steps_, 1);
    auto* right_layout = new QVBoxLayout(retrieval_side_);
    right_layout->setContentsMargins(0, 0, 0, 0);
    right_layout->addWidget(retrieval_summary_);
    right_layout->addWidget(retrieval_, 1);
    auto* split = new QSplitter(Qt::Horizontal);
    split->addWidget(left);
    split->addWidget(retrieval_side_);
    split->setStretchFactor(0, 5);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(split);
    rebuild();
}

void TokenView::setViewStep(int64_t step) { view_step_ = step; }

int TokenView::viewedIndex() const {
    const auto& records = current_->records();
    if (records.empty()) return -1;
    if (view_step_ < 0) return int(records.size()) - 1;
    const auto after = std::upper_bound(records.begin(), records.end(), view_step_,
                                        [](int64_t step, const StepRecord& r) { return step < r.step; });
    return int(after - records.begin()) - 1;
}

void TokenView::showEvent(QShowEvent* event) {
    QWidget::showEvent(event);
    QTimer::singleShot(0, steps_, &QTableWidget::scrollToBottom);
}

QString TokenView::summary() const { return summary_->text(); }

void TokenView::setComputeNote(const QString& note) {
    if (note == compute_note_) return;
    compute_note_ = note;
    rebuild();
}

ViewRequest TokenView::missingObservations() const {
    const auto& tokens = current_->info().tokens;
    const int last = viewedIndex();
    if (!tokens || tokens->task_name() != "recall" || last < 0) return {};
    const StepRecord& record = current_->records()[size_t(last)];
    if (!record.retrieval.empty()) return {};
    ViewRequest request;
    request.element = current_->info().observed;
    request.first = request.last = record.step;
    request.read_back = true;
    request.what = tr("stored pairs read back");
    return request;
}

void TokenView::rebuild() {
    const auto& tokens = current_->info().tokens;
    if (!tokens) {
        summary_->setText(
            tr("Token models only: open a demo model (File > Open demo model) or a model with a token head, "
               "and choose token input."));
        steps_->setRowCount(0);
        retrieval_summary_->clear();
        retrieval_->setRowCount(0);
        return;
    }
    retrieval_side_->setVisible(tokens->task_name() == "recall");
    const int last = viewedIndex();
    fillSteps(last);
    const std::optional<StepRecord> record =
        last >= 0 ? std::optional<StepRecord>(current_->records()[size_t(last)]) : std::nullopt;
    fillRetrieval(record ? &*record : nullptr);
}

void TokenView::fillSteps(int last) {
    const TokenModel& model = *current_->info().tokens;
    const auto& records = current_->records();
    int scored = 0, right = 0;
    for (int i = 0; i <= last; ++i) {
        const auto& token = records[size_t(i)].token;
        if (!token || token->target < 0) continue;
        ++scored;
        right += token->correct ? 1 : 0;
    }
    const int64_t step = last >= 0 ? records[size_t(last)].step : 0;
    summary_->setText(
        scored ? tr("Up to step %1: %2 of %3 answers right, accuracy %4")
                     .arg(step)
                     .arg(right)
                     .arg(scored)
                     .arg(double(right) / scored, 0, 'f', 3)
               : tr("Up to step %1: no answer scored yet (%2)")
                     .arg(step)
                     .arg(QString::fromStdString(model.task_name().empty() ? "no task" : model.task_name())));
    if (model.character_vocabulary() && last >= 0) {
        // Text reads best as text: the characters fed so far, the latest kTextShown of them.
        QString text;
        for (int i = std::max(0, last - kTextShown + 1); i <= last; ++i)
            if (const auto& token = records[size_t(i)].token) text += shown_tokens(model, token->input);
        summary_->setText(summary_->text() +
                          tr("\nRead so far: %1").arg(text.replace(QStringLiteral("␣"), QStringLiteral(" "))));
    }
    // Where the prompt (a recall instance's pairs and queries) ended: later inputs are the model's own.
    int ended = -1;
    for (int i = 0; i <= last && ended < 0; ++i)
        if (records[size_t(i)].token && records[size_t(i)].token->generated) ended = i;
    if (ended >= 0)
        summary_->setText(summary_->text() +
                          tr("\nThe %1 ended at step %2: later inputs are the model's own predictions")
                              .arg(model.task_name() == "recall" ? tr("recall instance") : tr("prompt"))
                              .arg(records[size_t(ended)].step - 1));
    const int first = std::max(0, last - kRows + 1);
    steps_->setUpdatesEnabled(false);
    steps_->setRowCount(last >= 0 ? last - first + 1 : 0);
    steps_->horizontalHeaderItem(0)->setToolTip(tr("Steps consumed, as on the timeline"));
    for (int i = first; i <= last; ++i) {
        const StepRecord& record = records[size_t(i)];
        const int row = i - first;
        steps_->setItem(row, 0, item(QString::number(record.step), Qt::AlignRight | Qt::AlignVCenter));
        if (!record.token) continue;
        const TokenPrediction& p = *record.token;
        QTableWidgetItem* input = item(shown_tokens(model, p.input));
        if (p.generated) {
            // Generated inputs read apart from the prompt's: grey, the first one marked.
            input->setForeground(QColor(120, 120, 120));
            // Short, so the column stays narrow; the summary above says it whole.
            if (i == ended) input->setText(tr("%1  ← generated").arg(input->text()));
            input->setToolTip(tr("The model's own prediction, fed back after the prompt ended"));
        }
        steps_->setItem(row, 1, input);
        QTableWidgetItem* predicted = item(predictions_text(model, p));
        predicted->setToolTip(predicted->text());
        steps_->setItem(row, 2, predicted);
        const bool scored_here = p.target >= 0;
        steps_->setItem(row, 3,
                        item(scored_here ? QStringLiteral("%1 (p %2)")
                                               .arg(shown_tokens(model, {p.target}))
                                               .arg(p.target_probability, 0, 'f', 2)
                                         : QString()));
        auto* mark = item(scored_here ? (p.correct ? tr("✓ right") : tr("✗ wrong")) : QString());
        mark->setForeground(p.correct ? kRight : kWrong);
        steps_->setItem(row, 4, mark);
        // Changes that round to zero read as 0.000, not as a signed zero.
        const double change = std::abs(p.target_change) < 5e-4 ? 0.0 : double(p.target_change);
        steps_->setItem(row, 5,
                        item(std::isnan(p.target_change) ? QString() : QString::asprintf("%+.3f", change),
                             Qt::AlignRight | Qt::AlignVCenter));
    }
    // The change against the original exists for a branch only.
    const bool branch = std::any_of(records.begin() + first, records.begin() + (last + 1),
                                    [](const StepRecord& r) { return r.token && !std::isnan(r.token->target_change); });
    steps_->setColumnHidden(kChangeColumn, !branch);
    steps_->setUpdatesEnabled(true);
    steps_->scrollToBottom();
}

void TokenView::fillRetrieval(const StepRecord* record) {
    const TokenModel& model = *current_->info().tokens;
    const ListView<Retrieval> pairs = record ? record->retrieval : ListView<Retrieval>();
    if (pairs.empty()) {
        const bool stored = current_->info().tokens && current_->info().tokens->task_name() == "recall" && record;
        retrieval_summary_->setText(
            stored && missingObservations().empty()
                ? tr("Nothing stored to read back at step %1.").arg(record->step)
                : tr("Read back after step %1: %2").arg(record ? record->step : 0).arg(compute_note_));
    } else {
        const auto right = std::count_if(pairs.begin(), pairs.end(), [](const Retrieval& r) { return r.correct; });
        double mean = 0;
        for (const Retrieval& r : pairs) mean += r.probability;
        retrieval_summary_->setText(tr("After step %1, %2 of %3 stored pairs read back right; mean p(value) %4")
                                        .arg(record->step)
                                        .arg(right)
                                        .arg(pairs.size())
                                        .arg(mean / double(pairs.size()), 0, 'f', 3));
    }
    retrieval_->setUpdatesEnabled(false);
    retrieval_->setRowCount(int(pairs.size()));
    for (size_t j = 0; j < pairs.size(); ++j) {
        const Retrieval& r = pairs[j];
        const int row = int(j);
        retrieval_->setItem(row, 0, item(shown_tokens(model, {r.key})));
        retrieval_->setItem(row, 1, item(shown_tokens(model, {r.value})));
        retrieval_->setItem(row, 2, item(QString::number(r.probability, 'f', 3), Qt::AlignRight | Qt::AlignVCenter));
        auto* mark = item(r.correct ? tr("✓") : tr("✗"));
        mark->setForeground(r.correct ? kRight : kWrong);
        retrieval_->setItem(row, 3, mark);
    }
    retrieval_->setUpdatesEnabled(true);
}

}  // namespace stepscope::ui
