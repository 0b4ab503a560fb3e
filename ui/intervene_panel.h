// The Intervene panel: ablate a head, edit the state or the next input at the viewed step, and go back to the original.
#pragma once

#include <QWidget>

#include <vector>

#include "session/intervention_spec.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QLineEdit;
class QSpinBox;

namespace stepscope::ui {

class TraceStore;

class IntervenePanel : public QWidget {
    Q_OBJECT

public:
    enum class Action {
        AblateFromHere = 0,
        AblateWholeRun,
        ScaleHead,
        ZeroHead,
        ClearLayer,
        CopyFromOriginal,
        EditInput,
        EditToken,
        ClearHeadCache,  // offered where the attention kind keeps a key/value cache
    };

    explicit IntervenePanel(QWidget* parent = nullptr);

    // Ranges from the run's shape, the step a branch would start at, and the interventions it has.
    void setRun(const TraceStore& run, int64_t view_step, const std::vector<Intervention>& interventions);
    // Fills the form (for scripts and tests); the values are checked when applied.
    void choose(Action action, int layer, int head, double number = 0, int element = 0, int index = 0);
    // The step an EditToken feeds, as typed.
    void chooseToken(int element, const QString& tokens);
    // The intervention the form describes and whether it covers the whole run.
    Intervention intervention() const;
    bool wholeRun() const;
    // The batch element an input or token edit changes: the one the plots show unless the user chose another.
    int element() const;

public slots:
    void apply();

signals:
    void interveneRequested(const stepscope::ui::Intervention& intervention, bool whole_run);
    void originalRequested();

private:
    void updateFields();

    QComboBox* action_;
    QComboBox* role_;
    QSpinBox* layer_;
    QSpinBox* head_;
    QDoubleSpinBox* factor_;
    QSpinBox* element_;
    QSpinBox* index_;
    QDoubleSpinBox* value_;
    QLineEdit* token_;
    QPushButton* apply_;
    QPushButton* original_;
    QLabel* where_;
    QLabel* list_;
    bool decoder_ = false;
    int shown_element_ = -1;  // the batch element the plots showed at the last setRun
};

}  // namespace stepscope::ui
