// Every view of the explorer, where it sits and what its tab is called.
#include "plots/view_list.h"

#include <QCoreApplication>

#include "plots/attention_plot.h"
#include "plots/capacity_plot.h"
#include "plots/divergence_plot.h"
#include "plots/head_grid_plot.h"
#include "plots/output_plot.h"
#include "plots/performance_plot.h"
#include "plots/spectrum_plot.h"
#include "plots/state_plot.h"
#include "plots/token_view.h"

namespace stepscope::ui {

namespace {

QString tr(const char* text) { return QCoreApplication::translate("PlotPanel", text); }

template <typename View>
std::function<QWidget*(const TraceStore*)> plot() {
    return [](const TraceStore*) -> QWidget* { return new View; };
}

}  // namespace

const std::vector<ViewEntry>& view_entries() {
    using P = ViewEntry::Place;
    static const std::vector<ViewEntry> entries{
        {"outputs", P::TopRow, {}, {}, plot<OutputPlot>()},
        {"states", P::TopRow, {}, {}, plot<StatePlot>()},
        {"attention", P::Heatmap, {}, {}, plot<AttentionPlot>()},
        {"performance", P::Tab, tr("Speed"), tr("Step latency and state memory"), plot<PerformancePlot>()},
        {"spectrum", P::Tab, tr("Spectrum"), tr("Spectrum of S: singular values of linear attention's state"),
         plot<SpectrumPlot>()},
        {"capacity", P::Tab, tr("Capacity"), tr("State capacity over steps"), plot<CapacityPlot>()},
        {"divergence", P::Tab, tr("Divergence"),
         tr("Divergence of the viewed run from its original or another run shown"), plot<DivergencePlot>()},
        {"heads", P::Tab, tr("Heads"), tr("Every layer x head's attention as a thumbnail: click one to open it"),
         plot<HeadGridPlot>()},
        {"tokens", P::Tab, tr("Tokens"), tr("Token models: inputs, predictions and answers"),
         [](const TraceStore* current) -> QWidget* { return new TokenView(current); }},
    };
    return entries;
}

QStringList view_names() {
    QStringList names;
    for (const ViewEntry& entry : view_entries())
        if (entry.place == ViewEntry::Place::Tab) names << entry.name;
    return names << QStringLiteral("intervene");
}

}  // namespace stepscope::ui
