// The output plot's selectors and series: y[d] of the observed element for chosen d, or ||y||.
#include "plots/output_plot.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <qcustomplot.h>

#include <algorithm>

namespace stepscope::ui {

std::optional<QVector<int>> parse_index_list(const QString& text, int max_count) {
    QVector<int> out;
    for (const QString& part : text.split(',', Qt::SkipEmptyParts)) {
        const QStringList bounds = part.trimmed().split('-');
        bool ok_first = false, ok_last = false;
        const int first = bounds.value(0).trimmed().toInt(&ok_first);
        const int last = bounds.size() == 2 ? bounds[1].trimmed().toInt(&ok_last) : first;
        if (!ok_first || (bounds.size() == 2 && !ok_last) || bounds.size() > 2 || first < 0 || last < first)
            return std::nullopt;
        for (int i = first; i <= last && out.size() <= max_count; ++i) out.push_back(i);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    if (out.isEmpty() || out.size() > max_count) return std::nullopt;
    return out;
}

QString index_list_error(const QString& text, int max_count, int width) {
    const QString example = OutputPlot::tr("write e.g. 0-3, 7");
    long count = 0;
    for (const QString& part : text.split(',', Qt::SkipEmptyParts)) {
        const QStringList bounds = part.trimmed().split('-');
        bool ok_first = false, ok_last = false;
        const long first = bounds.value(0).trimmed().toLong(&ok_first);
        const long last = bounds.size() == 2 ? bounds[1].trimmed().toLong(&ok_last) : first;
        if (!ok_first || (bounds.size() == 2 && !ok_last) || bounds.size() > 2)
            return OutputPlot::tr("'%1' is not a dim or a range: %2").arg(part.trimmed(), example);
        if (last < first)
            return OutputPlot::tr("%1 runs backwards: write %2-%3").arg(part.trimmed()).arg(last).arg(first);
        if (first < 0) return OutputPlot::tr("dims start at 0");
        if (width > 0 && last >= width)
            return OutputPlot::tr("%1 is out of range: y has dims 0 to %2").arg(last).arg(width - 1);
        count += last - first + 1;
    }
    if (count == 0) return OutputPlot::tr("no dims given: %1").arg(example);
    if (count > max_count) return OutputPlot::tr("%1 dims, at most %2 are drawn").arg(count).arg(max_count);
    return {};
}

OutputPlot::OutputPlot(QWidget* parent)
    : TimePlot(tr("Outputs over time"), QStringLiteral("outputs"), parent),
      mode_(new QComboBox),
      dimensions_edit_(new QLineEdit(QStringLiteral("0-3"))),
      dimensions_error_(new QLabel) {
    mode_->addItems({tr("feature dimensions"), tr("output norm ‖y‖")});
    dimensions_edit_->setPlaceholderText(QStringLiteral("0-3, 7"));
    dimensions_edit_->setToolTip(tr("Feature dimensions of y to draw, at most %1: \"0-3, 7\"").arg(kMaxDimensions));
    dimensions_edit_->setMaximumWidth(120);
    controls()->addWidget(new QLabel(tr("Show")));
    controls()->addWidget(mode_);
    controls()->addWidget(new QLabel(tr("dims")));
    controls()->addWidget(dimensions_edit_);
    dimensions_error_->setStyleSheet(QStringLiteral("color: #c62828;"));
    // The reason has a row of its own under the selectors, wrapped, so it is read whole.
    dimensions_error_->setWordWrap(true);
    dimensions_error_->setContentsMargins(6, 0, 6, 0);
    dimensions_error_->setVisible(false);
    addRowUnderControls(dimensions_error_);
    controls()->addStretch(1);
    connect(mode_, &QComboBox::currentIndexChanged, this, [this](int index) { showNorm(index == 1); });
    connect(dimensions_edit_, &QLineEdit::editingFinished, this, [this] { setDimensions(dimensions_edit_->text()); });
}

bool OutputPlot::setDimensions(const QString& text) {
    const int width = current_ && current_->has_run() ? current_->width() : 0;
    QString reason = index_list_error(text, kMaxDimensions, width);
    const auto parsed = reason.isEmpty() ? parse_index_list(text, kMaxDimensions) : std::nullopt;
    if (!parsed && reason.isEmpty()) reason = tr("not a list: write e.g. 0-3, 7 (at most %1)").arg(kMaxDimensions);
    dimensions_edit_->setStyleSheet(parsed ? QString() : QStringLiteral("QLineEdit { border: 1px solid #c62828; }"));
    dimensions_error_->setText(reason);
    dimensions_error_->setToolTip(reason);
    dimensions_error_->setVisible(!parsed);
    dimensions_edit_->setToolTip(parsed ? tr("Feature dimensions of y to draw: \"0-3, 7\"") : reason);
    if (!parsed) return false;
    if (dimensions_edit_->text() != text) dimensions_edit_->setText(text);
    dimensions_ = *parsed;
    selectionChanged();
    return true;
}

void OutputPlot::showNorm(bool norm) {
    if (mode_->currentIndex() != int(norm)) mode_->setCurrentIndex(int(norm));
    dimensions_edit_->setEnabled(!norm);
    selectionChanged();
}

QString OutputPlot::dimensionsError() const { return dimensions_error_->text(); }

void OutputPlot::rebuild() {
    const int element = current_ ? current_->info().observed : 0;
    // A pinned run recorded another element: the title says so rather than compare them silently.
    const bool other = pinned_ && pinned_->has_run() && pinned_->info().observed != element;
    const int batch = current_ && current_->has_run() ? current_->info().batch : 1;
    if (band() != Band::Element)
        setSubtitle(tr("mean of the batch's %1 elements, %2")
                        .arg(batch)
                        .arg(band() == Band::MinMax ? tr("min–max band") : tr("± std band")));
    else
        setSubtitle(other ? tr("batch element %1, other run element %2").arg(element).arg(pinned_->info().observed)
                          : tr("batch element %1").arg(element));
    TimePlot::rebuild();
}

QString OutputPlot::yLabel() const {
    const int element = current_ ? current_->info().observed : 0;
    // The element is in the title: the label stays short enough for a 1280x720 window.
    Q_UNUSED(element);
    return mode_->currentIndex() == 1 ? tr("‖y‖") : tr("y[d]");
}

std::vector<TimePlot::Series> OutputPlot::series(const TraceStore& store) const {
    if (mode_->currentIndex() == 1)
        return {{tr("‖y‖"), 0, false, [](const StepRecord& r) { return std::optional<double>(r.output_norm); }}};
    std::vector<Series> out;
    for (int i = 0; i < dimensions_.size(); ++i) {
        const int d = dimensions_[i];
        if (d >= store.width()) continue;
        out.push_back({QStringLiteral("y[%1]").arg(d), i, false, [d](const StepRecord& r) {
                           return d < int(r.output.size()) ? std::optional<double>(r.output[size_t(d)]) : std::nullopt;
                       }});
    }
    return out;
}

}  // namespace stepscope::ui
