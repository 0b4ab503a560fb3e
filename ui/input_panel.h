// The input form: where the sequence comes from (random, sinusoid, fed-back output, file, tokens), and a decoder's memory.
#pragma once

#include <QWidget>

#include "session/session_spec.h"

class QComboBox;
class QDoubleSpinBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace stepscope::ui {

class InputPanel : public QWidget {
    Q_OBJECT

public:
    explicit InputPanel(QWidget* parent = nullptr);

    // Shows the sources of `spec`.
    void fill(const SessionSpec& spec);
    // Writes the form's sources, batch and sequence seed into `spec`; false (with a message) when incomplete.
    bool apply(SessionSpec& spec);
    void setDecoder(bool decoder);
    // A refusal of the input or memory (a file of the wrong width, say).
    void showError(const QString& message);
    QString errorText() const;

signals:
    void changed();

private:
    void updateEnabled();
    QString browse(const QString& title, const QString& filter);

    QComboBox* source_;
    QSpinBox* seed_;
    QDoubleSpinBox* period_;
    QLineEdit* path_;
    QSpinBox* batch_;
    QSpinBox* sequence_seed_;
    QGroupBox* tokens_group_;
    QComboBox* token_mode_;
    QLineEdit* token_text_;
    QSpinBox* pairs_;
    QDoubleSpinBox* temperature_;
    QGroupBox* memory_group_;
    QComboBox* memory_source_;
    QSpinBox* memory_seed_;
    QSpinBox* memory_length_;
    QLineEdit* memory_path_;
    QLabel* error_;
};

}  // namespace stepscope::ui
