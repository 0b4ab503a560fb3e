// The explorer's views in one list: a new plot is its own file plus one entry here.
//
// PlotPanel builds every view from this list (where it sits, its tab), exports each one that has something
// to show (PlotView::notExported), and `--view NAME` brings a tab to the front by its name.
#pragma once

#include <QString>
#include <QWidget>

#include <functional>
#include <vector>

#include "session/trace_store.h"

namespace stepscope::ui {

struct ViewEntry {
    enum class Place {
        TopRow,   // the upper row: outputs and state norms side by side
        Heatmap,  // lower left, always shown
        Tab,      // one of the tabs beside the heatmap
    };
    QString name;  // `--view NAME`; plots export under their own file stem
    Place place = Place::Tab;
    QString tab;      // the tab's short title (Tab only): all of them fit a 1280-pixel window
    QString tab_tip;  // what the tab shows
    // Makes the view; `current` is the run's store the panel reads (a TokenView takes it at construction).
    std::function<QWidget*(const TraceStore* current)> make;
};

// The views in their order on screen.
const std::vector<ViewEntry>& view_entries();

// The names `--view` takes: the tabs of the list, then the pages the window adds ("intervene").
QStringList view_names();

}  // namespace stepscope::ui
