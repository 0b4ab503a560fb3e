// Plot: every layer x head's attention over the last steps as a small heatmap (bertviz's model view).
#pragma once

#include "plots/plot_view.h"

class QCPColorMap;
class QCPColorScale;
class QCPItemText;

namespace stepscope::ui {

class HeadGridPlot : public PlotView {
    Q_OBJECT

public:
    explicit HeadGridPlot(QWidget* parent = nullptr);

    void rebuild() override;
    void appendFrom(int first) override;
    void setViewStep(int64_t step) override;
    void refresh() override;
    QString csv() const override;
    QString notExported() const override;
    // The (layer, head) whose thumbnail lies under `position` (plot pixels); (-1, -1) between them.
    std::pair<int, int> headAt(const QPoint& position) const;
    // Thumbnails holding weights at the last refresh; for tests.
    int thumbnailsShown() const { return shown_; }

signals:
    // A thumbnail was clicked: open that head in the attention heatmap.
    void headChosen(int layer, int head);

protected:
    void hover(const QPoint& position) override;

private:
    QCPColorMap* map_;
    QCPColorScale* scale_;
    QCPItemText* note_;
    int64_t view_step_ = 0;
    int layers_ = 0, heads_ = 0;
    int rows_ = 0, columns_ = 0;  // of one thumbnail
    int shown_ = 0;
};

}  // namespace stepscope::ui
