// The input form: where the sequence comes from (random, sinusoid, fed-back output, file, tokens), and a decoder's
// memory.
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

class StrictSpinBox;

class InputPanel : public QWidget {
    Q_OBJECT

public:
    explicit InputPanel(QWidget* parent = nullptr);

    // Shows the sources of `spec`.
    void fill(const SessionSpec& spec);
    // Writes the form's sources, batch and sequence seed into `spec`; false (with a message) when incomplete.
    bool apply(SessionSpec& spec);
    void setDecoder(bool decoder);
    // Whether the model has a token head: token input is offered only then.
    void setTokenModel(bool tokens);
    // A refusal of the input or memory (a file of the wrong width, say).
    void showError(const QString& message);
    QString errorText() const;

signals:
    void changed();

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void updateEnabled();
    // The message's wrapped height as its minimum: a scroll area's layout ignores heightForWidth and
    // cut long refusals to their first line.
    void fitError();
    bool token_model_ = false;
    QString browse(const QString& title, const QString& filter);

    QComboBox* source_;
    StrictSpinBox* seed_;
    QDoubleSpinBox* period_;
    QLineEdit* path_;
    StrictSpinBox* batch_;
    StrictSpinBox* sequence_seed_;
    QGroupBox* tokens_group_;
    QComboBox* token_mode_;
    QLineEdit* token_text_;
    StrictSpinBox* pairs_;
    QDoubleSpinBox* temperature_;
    QGroupBox* memory_group_;
    QComboBox* memory_source_;
    StrictSpinBox* memory_seed_;
    StrictSpinBox* memory_length_;
    QLineEdit* memory_path_;
    QLabel* error_;
};

}  // namespace stepscope::ui
