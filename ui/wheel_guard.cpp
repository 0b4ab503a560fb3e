// The wheel filter: an unfocused field passes the wheel on to its parents (the scroll area).
#include "wheel_guard.h"

#include <QAbstractSpinBox>
#include <QComboBox>
#include <QEvent>

namespace stepscope::ui {

namespace {
class WheelGuard : public QObject {
public:
    using QObject::QObject;

    bool eventFilter(QObject* watched, QEvent* event) override {
        if (event->type() != QEvent::Wheel) return false;
        auto* widget = qobject_cast<QWidget*>(watched);
        if (!widget || widget->hasFocus()) return false;
        // Not accepted and not delivered: Qt hands the wheel to the parent widgets.
        event->ignore();
        return true;
    }
};
}  // namespace

void take_wheel_only_when_focused(QWidget* root) {
    auto* guard = new WheelGuard(root);
    auto guard_widget = [guard](QWidget* widget) {
        widget->setFocusPolicy(Qt::StrongFocus);
        widget->installEventFilter(guard);
    };
    for (QAbstractSpinBox* spin : root->findChildren<QAbstractSpinBox*>()) guard_widget(spin);
    for (QComboBox* combo : root->findChildren<QComboBox*>()) guard_widget(combo);
}

}  // namespace stepscope::ui
