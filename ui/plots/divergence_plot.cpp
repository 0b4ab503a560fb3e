// The distances the Session measures between a branch and its original, as it steps them side by side.
#include "plots/divergence_plot.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "session/insight_records.h"

namespace stepscope::ui {

DivergencePlot::DivergencePlot(QWidget* parent)
    : TimePlot(tr("Divergence"), QStringLiteral("divergence"), parent), compare_(new QComboBox), note_(new QLabel) {
    compare_->setToolTip(
        tr("The run the viewed run is compared with: its original (the same run without "
           "interventions, per layer), or any run drawn beside it (their outputs, step by step; "
           "runs of two models compare where their outputs have one width)"));
    controls()->addWidget(new QLabel(tr("Compare with")));
    controls()->addWidget(compare_);
    connect(compare_, &QComboBox::currentIndexChanged, this, [this] {
        if (filling_) return;
        chosen_ = compare_->currentText();
        nameComparedRuns();
        selectionChanged();
    });
    note_->setToolTip(
        tr("A branch (an intervention or an edited input) is stepped beside its original, the same "
           "run without interventions; each step compares their layer outputs. Another run shown "
           "compares by its outputs at the same steps."));
    note_->setStyleSheet(QStringLiteral("color: gray;"));
    // Wraps in a narrow tab rather than widening the window past a 1280-pixel screen.
    note_->setWordWrap(true);
    controls()->addWidget(note_, 1);
    setLogScale(true);
    // Distances often span less than a decade: whole-decade labels alone would repeat.
    plot()->yAxis->setNumberPrecision(2);
}

QString DivergencePlot::yLabel() const {
    if (comparedWith() >= 0) return tr("‖y − y(%1)‖ (log scale)").arg(compare_->currentText());
    return tr("‖y − y_original‖ (log scale)");
}

QString DivergencePlot::emptyNote() const {
    if (comparedWith() >= 0 && current_ && !current_->empty())
        return tr("The runs' outputs are equal at every step both have,\nor of different widths");
    if (current_ && current_->has_run() && !current_->empty())
        return tr(
            "No branch: apply an intervention or edit an input\n(Run ▸ Intervene…), or compare with another run "
            "shown");
    return TimePlot::emptyNote();
}

void DivergencePlot::rebuild() {
    // The choices: the original, then every run drawn beside this one; a branch's parent first by default.
    filling_ = true;
    compare_->clear();
    compare_->addItem(tr("its original"), -1);
    int parent = -1;
    for (size_t i = 0; i < overlays_.size(); ++i) {
        compare_->addItem(overlays_[i].name.section(':', 0, 0), int(i));
        compare_->setItemData(compare_->count() - 1, overlays_[i].name, Qt::ToolTipRole);
        if (overlays_[i].parent) parent = int(i);
    }
    const bool branch = current_ && !current_->empty() && !current_->records().back().divergence.empty();
    // The user's choice while that run is drawn; else a plain branch against its parent, anything else its original.
    int index = chosen_.isEmpty() ? -1 : compare_->findText(chosen_);
    if (index < 0) index = !branch && parent >= 0 ? parent + 1 : 0;
    compare_->setCurrentIndex(index);
    filling_ = false;
    nameComparedRuns();
    TimePlot::rebuild();
}

void DivergencePlot::nameComparedRuns() {
    const int other = comparedWith();
    const QString viewed = viewedShortName();
    if (other >= 0 && other < int(overlays_.size())) {
        const QString name = overlays_[size_t(other)].name.section(':', 0, 0);
        setSubtitle(tr("%1 against %2").arg(viewed, name));
        note_->setText(tr("‖y − y(%1)‖ of the element shown, at the steps both runs have · orange line: first step "
                          "where %2 left its original")
                           .arg(name, viewed));
    } else {
        setSubtitle(tr("%1 against its original").arg(viewed));
        note_->setText(tr("‖y − y_original‖ of the element shown, per layer · orange line: first step beyond 1e-6"));
    }
}

void DivergencePlot::compareWith(int index) {
    compare_->setCurrentIndex(std::clamp(index + 1, 0, compare_->count() - 1));
}

int DivergencePlot::comparedWith() const { return compare_->currentData().toInt(); }

QString DivergencePlot::notExported() const {
    // Compared with another run drawn beside it, or a branch with its original.
    if (comparedWith() >= 0) return {};
    const bool branch = current_ && std::any_of(current_->records().begin(), current_->records().end(),
                                                [](const StepRecord& r) { return !r.divergence.empty(); });
    return branch ? QString() : tr("no branch to compare");
}

std::vector<TimePlot::Series> DivergencePlot::series(const TraceStore& store) const {
    // The viewed run only, compared with its original or with another run.
    if (&store != current_) return {};
    std::vector<Series> out;
    if (const int other = comparedWith(); other >= 0 && other < int(overlays_.size())) {
        const TraceStore* with = overlays_[size_t(other)].store;
        const QString name = overlays_[size_t(other)].name.section(':', 0, 0);
        out.push_back({tr("‖y − y(%1)‖").arg(name), 0, false, [with](const StepRecord& r) -> std::optional<double> {
                           const std::optional<StepRecord> o = with->at_step(r.step);
                           if (!o) return std::nullopt;
                           const auto d = output_distance(r, *o);
                           return d && *d > 0 ? d : std::nullopt;
                       }});
        if (!store.info().tokens || !with->info().tokens) return out;
        out.push_back({tr("p(answer), viewed run"), 1, true, [](const StepRecord& r) -> std::optional<double> {
                           if (!r.token || r.token->target < 0) return std::nullopt;
                           return double(r.token->target_probability);
                       }});
        out.push_back({tr("p(answer), %1").arg(name), 2, true, [with](const StepRecord& r) -> std::optional<double> {
                           const std::optional<StepRecord> o = with->at_step(r.step);
                           if (!o || !o->token || o->token->target < 0) return std::nullopt;
                           return double(o->token->target_probability);
                       }});
        return out;
    }
    const int layers = store.layers();
    for (int l = 0; l <= layers; ++l) {
        // Exact zeros (before the branch point) have no place on a log axis.
        auto value = [l](const StepRecord& r) {
            return l < int(r.divergence.size()) && r.divergence[size_t(l)] > 0
                       ? std::optional<double>(r.divergence[size_t(l)])
                       : std::nullopt;
        };
        out.push_back({l < layers ? tr("layer %1").arg(l) : tr("output y"), l, false, value});
    }
    if (!store.info().tokens) return out;
    // Token models: the correct answer's probability in the branch and in its original, where scored.
    auto answer = [](bool original) {
        return [original](const StepRecord& r) -> std::optional<double> {
            if (!r.token || r.token->target < 0 || std::isnan(r.token->target_change)) return std::nullopt;
            return double(r.token->target_probability) - (original ? double(r.token->target_change) : 0.0);
        };
    };
    out.push_back({tr("p(answer), branch"), layers + 1, true, answer(false)});
    out.push_back({tr("p(answer), original"), layers + 2, true, answer(true)});
    return out;
}

QString DivergencePlot::y2Label() const { return tr("p(correct answer) (log scale)"); }

}  // namespace stepscope::ui
