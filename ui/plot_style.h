// The look every plot shares: fonts, palette, legend placement, titles and the empty-state note.
#pragma once

#include <QColor>
#include <QString>

class QCustomPlot;
class QCPItemText;
class QCPAxisRect;

namespace stepscope::ui {

// A qualitative palette; series beyond it cycle.
QColor series_color(int index);
// The pinned run's version of a colour: the same hue, paler.
QColor pinned_color(int index);

// Title row, fonts, a legend in its own column right of the axes, drag and wheel zoom.
void style_plot(QCustomPlot* plot, const QString& title);
// A grey note centred on the axes, for empty states ("Press Step ..."); hidden by default.
QCPItemText* add_note(QCustomPlot* plot);

}  // namespace stepscope::ui
