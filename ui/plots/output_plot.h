// Plot 1: the model's output over steps, chosen feature dimensions of the observed element or its norm.
#pragma once

#include <QVector>

#include "plots/time_plot.h"

class QComboBox;
class QLabel;
class QLineEdit;

namespace stepscope::ui {

class OutputPlot : public TimePlot {
    Q_OBJECT

public:
    explicit OutputPlot(QWidget* parent = nullptr);

    // "0-3, 7": feature dimensions to draw (at most kMaxDimensions); false for text that is not a list.
    bool setDimensions(const QString& text);
    void showNorm(bool norm);
    void rebuild() override;
    // Why the dims text was refused; empty while it is fine.
    QString dimensionsError() const;

    static constexpr int kMaxDimensions = 12;

protected:
    std::vector<Series> series(const TraceStore& store) const override;
    QString yLabel() const override;

private:
    QComboBox* mode_;
    QLineEdit* dimensions_edit_;
    QLabel* dimensions_error_;
    QVector<int> dimensions_{0, 1, 2, 3};
};

// Parses "0-3, 7" into sorted unique indices; empty optional for malformed text.
std::optional<QVector<int>> parse_index_list(const QString& text, int max_count);
// Why `text` is no list of at most `max_count` indices below `width` (0: any width): "not a list…",
// "500 is out of range…", "… 501 dims, at most 8"; empty when it is one.
QString index_list_error(const QString& text, int max_count, int width);

}  // namespace stepscope::ui
