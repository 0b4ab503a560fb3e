// An integer field that never alters what is typed: the range bounds the arrows, the form says the rest.
#include "strict_spin_box.h"

#include <algorithm>
#include <limits>

namespace stepscope::ui {

StrictSpinBox::StrictSpinBox(int minimum, int maximum, const QString& zero_text, QWidget* parent)
    : QSpinBox(parent), minimum_(minimum), maximum_(maximum), zero_text_(zero_text) {
    // As wide as a spin box of the allowed range: the form keeps its width.
    QSpinBox probe;
    probe.setRange(minimum, maximum);
    probe.setSpecialValueText(zero_text);
    hint_ = probe.sizeHint();
    minimum_hint_ = probe.minimumSizeHint();
    setRange(std::numeric_limits<int>::min() + 1, std::numeric_limits<int>::max());
    setValue(std::clamp(0, minimum, maximum));
}

QString StrictSpinBox::rangeError() const {
    const int v = value();
    if (v < minimum_) return tr("%1 is below the minimum of %2").arg(v).arg(minimum_);
    if (v > maximum_) return tr("%1 is above the maximum of %2").arg(v).arg(maximum_);
    return {};
}

void StrictSpinBox::stepBy(int steps) {
    const qint64 next = std::clamp<qint64>(qint64(value()) + steps, minimum_, maximum_);
    setValue(int(next));
    selectAll();
}

QAbstractSpinBox::StepEnabled StrictSpinBox::stepEnabled() const {
    StepEnabled enabled = StepNone;
    if (value() < maximum_) enabled |= StepUpEnabled;
    if (value() > minimum_) enabled |= StepDownEnabled;
    return enabled;
}

QValidator::State StrictSpinBox::validate(QString& text, int& position) const {
    if (!zero_text_.isEmpty() && zero_text_.startsWith(text) && !text.isEmpty())
        return text == zero_text_ ? QValidator::Acceptable : QValidator::Intermediate;
    return QSpinBox::validate(text, position);
}

int StrictSpinBox::valueFromText(const QString& text) const {
    if (!zero_text_.isEmpty() && text == zero_text_) return 0;
    return QSpinBox::valueFromText(text);
}

QString StrictSpinBox::textFromValue(int value) const {
    if (value == 0 && !zero_text_.isEmpty()) return zero_text_;
    return QSpinBox::textFromValue(value);
}

}  // namespace stepscope::ui
