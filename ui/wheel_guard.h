// Number fields and choices inside a scrolling form take the mouse wheel only once focused.
#pragma once

class QWidget;

namespace stepscope::ui {

// For every spin box and combo box under `root`: focus by click or Tab only, and a wheel over an
// unfocused one scrolls the form around it instead of changing its value.
void take_wheel_only_when_focused(QWidget* root);

}  // namespace stepscope::ui
