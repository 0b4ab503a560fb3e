// The distances the Session measures between a branch and its original, as it steps them side by side.
#include "plots/divergence_plot.h"

#include <QHBoxLayout>
#include <QLabel>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

namespace stepscope::ui {

DivergencePlot::DivergencePlot(QWidget* parent)
    : TimePlot(tr("Divergence from the original"), QStringLiteral("divergence"), parent) {
    auto* note = new QLabel(tr("‖y − y_original‖ of the element shown, per layer · orange line: first step beyond 1e-6"));
    note->setToolTip(tr("A branch (an intervention or an edited input) is stepped beside its original, the same "
                        "run without interventions; each step compares their layer outputs."));
    note->setStyleSheet(QStringLiteral("color: gray;"));
    // Wraps in a narrow tab rather than widening the window past a 1280-pixel screen.
    note->setWordWrap(true);
    controls()->addWidget(note, 1);
    setLogScale(true);
    // Distances often span less than a decade: whole-decade labels alone would repeat.
    plot()->yAxis->setNumberPrecision(2);
}

QString DivergencePlot::yLabel() const { return tr("‖y − y_original‖ (log scale)"); }

QString DivergencePlot::emptyNote() const {
    if (current_ && current_->has_run() && !current_->empty())
        return tr("No branch: apply an intervention or edit an input\n(Run ▸ Intervene…) to compare with this run");
    return TimePlot::emptyNote();
}

QString DivergencePlot::notExported() const {
    const bool branch = current_ && std::any_of(current_->records().begin(), current_->records().end(),
                                                [](const StepRecord& r) { return !r.divergence.empty(); });
    return branch ? QString() : tr("no branch to compare");
}

std::vector<TimePlot::Series> DivergencePlot::series(const TraceStore& store) const {
    // The current run only: a pinned run is the original itself.
    if (&store == pinned_) return {};
    std::vector<Series> out;
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
