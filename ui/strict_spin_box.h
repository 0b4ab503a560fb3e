// A spin box that keeps what is typed: "-5" or 99999 stay as typed, for the form to refuse with a reason.
#pragma once

#include <QSpinBox>

namespace stepscope::ui {

// QSpinBox drops a typed "-" below a minimum of 0 and every digit past its maximum, so "-5" became 5
// and 99999 became 9 without a word. This one takes any integer typed; only the arrows and the wheel
// keep to [minimum, maximum]. `zero_text`, when given, stands for 0 ("default").
class StrictSpinBox : public QSpinBox {
    Q_OBJECT

public:
    StrictSpinBox(int minimum, int maximum, const QString& zero_text = {}, QWidget* parent = nullptr);

    int allowedMinimum() const { return minimum_; }
    int allowedMaximum() const { return maximum_; }
    // Empty while the value lies within [minimum, maximum]; else why not ("1500 is above the maximum of 1024").
    QString rangeError() const;

    QSize sizeHint() const override { return hint_; }
    QSize minimumSizeHint() const override { return minimum_hint_; }

protected:
    void stepBy(int steps) override;
    StepEnabled stepEnabled() const override;
    QValidator::State validate(QString& text, int& position) const override;
    int valueFromText(const QString& text) const override;
    QString textFromValue(int value) const override;

private:
    int minimum_, maximum_;
    QString zero_text_;
    QSize hint_, minimum_hint_;
};

}  // namespace stepscope::ui
