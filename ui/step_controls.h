// Step, Step N (with progress and Cancel), Run/Pause at a rate, Reset, and the timeline slider that scrubs back.
#pragma once

#include <QWidget>

#include <cstdint>

class QAction;
class QComboBox;
class QLabel;
class QProgressBar;
class QSlider;
class QSpinBox;
class QToolButton;

namespace stepscope::ui {

class StepControls : public QWidget {
    Q_OBJECT

public:
    explicit StepControls(QWidget* parent = nullptr);

    // Actions with their shortcuts, for the Run menu.
    QAction* stepAction() const { return step_; }
    QAction* stepManyAction() const { return step_many_; }
    QAction* runAction() const { return run_; }
    QAction* resetAction() const { return reset_; }
    QAction* cancelAction() const { return cancel_; }
    int stepCount() const;
    void setStepCount(int count);
    // Steps per second of Run; 0 is as fast as the engine goes.
    double rate() const;

public slots:
    void setBusy(bool busy);
    void setPlaying(bool playing);
    void setHasRun(bool has_run);
    void setProgress(qint64 done, qint64 total);
    // No steps asked for yet: an empty bar, not "0 / 1".
    void clearProgress();
    // After Pause: an empty bar that says where the run stopped.
    void showPaused(qint64 step);
    QString progressText() const;
    // The run spans base .. last; the slider sits on `view`.
    void setTimeline(qint64 base, qint64 last, qint64 view);

signals:
    void stepRequested(qint64 count);
    void playRequested(double steps_per_second);
    void pauseRequested();
    void resetRequested();
    void cancelRequested();
    void scrubbed(qint64 step);

private:
    QAction* step_;
    QAction* step_many_;
    QAction* run_;
    QAction* reset_;
    QAction* cancel_;
    QSpinBox* count_;
    QComboBox* rate_;
    QProgressBar* progress_;
    QSlider* timeline_;
    QLabel* position_;
    bool playing_ = false;
    bool busy_ = false;
    bool has_run_ = false;
};

}  // namespace stepscope::ui
