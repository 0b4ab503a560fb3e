// The stepping toolbar: actions with shortcuts, a progress bar for Step N, and the scrubbing timeline.
#include "step_controls.h"

#include <QAction>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include "window_commands.h"

namespace stepscope::ui {

namespace {
QToolButton* button_for(QAction* action) {
    auto* button = new QToolButton;
    button->setDefaultAction(action);
    button->setToolButtonStyle(Qt::ToolButtonTextOnly);
    return button;
}
}  // namespace

StepControls::StepControls(QWidget* parent)
    : QWidget(parent),
      step_(make_action(CommandId::Step, this)),
      step_many_(make_action(CommandId::StepMany, this)),
      run_(make_action(CommandId::RunPause, this)),
      reset_(make_action(CommandId::Reset, this)),
      cancel_(make_action(CommandId::Cancel, this)),
      count_(new QSpinBox),
      rate_(new QComboBox),
      progress_(new QProgressBar),
      timeline_(new QSlider(Qt::Horizontal)),
      position_(new QLabel) {
    count_->setRange(1, 1000000);
    count_->setValue(100);
    count_->setToolTip(tr("N for Step N"));
    rate_->addItem(tr("1 step/s"), 1.0);
    rate_->addItem(tr("5 steps/s"), 5.0);
    rate_->addItem(tr("20 steps/s"), 20.0);
    rate_->addItem(tr("100 steps/s"), 100.0);
    rate_->addItem(tr("1000 steps/s"), 1000.0);
    rate_->addItem(tr("as fast as possible"), 0.0);
    rate_->setCurrentIndex(2);
    rate_->setToolTip(tr("Rate of Run"));
    // Wide enough for "123,456 / 1,000,000" on one line.
    progress_->setMinimumWidth(progress_->fontMetrics().horizontalAdvance(QStringLiteral("0000000 / 00000000")) + 16);
    progress_->setMaximumWidth(260);
    progress_->setTextVisible(true);
    clearProgress();
    timeline_->setRange(0, 0);
    timeline_->setToolTip(tr("Scrub back to any earlier step; stepping on from there branches the run"));
    position_->setMinimumWidth(150);

    auto* buttons = new QHBoxLayout;
    buttons->setContentsMargins(6, 4, 6, 0);
    buttons->addWidget(button_for(step_));
    buttons->addWidget(count_);
    buttons->addWidget(button_for(step_many_));
    buttons->addSpacing(12);
    buttons->addWidget(button_for(run_));
    buttons->addWidget(rate_);
    buttons->addSpacing(12);
    buttons->addWidget(button_for(reset_));
    buttons->addSpacing(12);
    buttons->addWidget(progress_);
    buttons->addWidget(button_for(cancel_));
    buttons->addStretch(1);
    auto* timeline = new QHBoxLayout;
    timeline->setContentsMargins(6, 0, 6, 2);
    timeline->addWidget(new QLabel(tr("Timeline")));
    timeline->addWidget(timeline_, 1);
    timeline->addWidget(position_);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addLayout(buttons);
    layout->addLayout(timeline);

    connect(step_, &QAction::triggered, this, [this] { emit stepRequested(1); });
    connect(step_many_, &QAction::triggered, this, [this] { emit stepRequested(count_->value()); });
    connect(run_, &QAction::triggered, this, [this] {
        if (playing_) emit pauseRequested();
        else emit playRequested(rate());
    });
    connect(reset_, &QAction::triggered, this, &StepControls::resetRequested);
    connect(cancel_, &QAction::triggered, this, &StepControls::cancelRequested);
    connect(timeline_, &QSlider::valueChanged, this, [this](int value) { emit scrubbed(value); });
    setHasRun(false);
}

int StepControls::stepCount() const { return count_->value(); }
void StepControls::setStepCount(int count) { count_->setValue(count); }
double StepControls::rate() const { return rate_->currentData().toDouble(); }

void StepControls::setBusy(bool busy) {
    busy_ = busy;
    setHasRun(has_run_);
}

void StepControls::setPlaying(bool playing) {
    playing_ = playing;
    run_->setText(playing ? tr("Pause") : tr("Run"));
    setHasRun(has_run_);
}

void StepControls::setHasRun(bool has_run) {
    has_run_ = has_run;
    // While running, Step would interleave with the timer; Pause first.
    step_->setEnabled(has_run && !busy_ && !playing_);
    step_many_->setEnabled(has_run && !busy_ && !playing_);
    run_->setEnabled(has_run);
    reset_->setEnabled(has_run);
    cancel_->setEnabled(busy_);
    timeline_->setEnabled(has_run && !playing_);
}

void StepControls::setProgress(qint64 done, qint64 total) {
    // An unbounded Run has no meaningful total: show the count only.
    const bool bounded = total < (qint64(1) << 40);
    progress_->setRange(0, bounded ? int(std::min<qint64>(total, INT32_MAX)) : 0);
    progress_->setValue(int(std::min<qint64>(done, INT32_MAX)));
    progress_->setFormat(bounded ? QStringLiteral("%v / %m") : tr("%1 steps").arg(done));
}

void StepControls::showPaused(qint64 step) {
    progress_->setRange(0, 1);
    progress_->setValue(0);
    progress_->setFormat(tr("paused at step %1").arg(step));
}

void StepControls::clearProgress() {
    progress_->setRange(0, 1);
    progress_->setValue(0);
    progress_->setFormat(QString());
}

QString StepControls::progressText() const { return progress_->text(); }

void StepControls::setTimeline(qint64 base, qint64 last, qint64 view) {
    const QSignalBlocker blocker(timeline_);
    timeline_->setRange(int(base), int(std::max(base, last)));
    timeline_->setValue(int(view));
    position_->setText(view < last ? tr("viewing step %1 of %2").arg(view).arg(last) : tr("step %1").arg(last));
}

}  // namespace stepscope::ui
