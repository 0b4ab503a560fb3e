// A form per intervention; the Session checks and applies it in the worker thread.
#include "intervene_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QVBoxLayout>

#include <utility>

#include "stepscope/attention_kind.h"

#include "session/trace_store.h"

namespace stepscope::ui {

IntervenePanel::IntervenePanel(QWidget* parent)
    : QWidget(parent),
      action_(new QComboBox),
      role_(new QComboBox),
      layer_(new QSpinBox),
      head_(new QSpinBox),
      factor_(new QDoubleSpinBox),
      element_(new QSpinBox),
      index_(new QSpinBox),
      value_(new QDoubleSpinBox),
      token_(new QLineEdit),
      apply_(new QPushButton(tr("Branch here"))),
      original_(new QPushButton(tr("Back to the original"))),
      where_(new QLabel),
      list_(new QLabel) {
    action_->addItems({tr("Ablate head from this step on"), tr("Ablate head for the whole run"),
                       tr("Scale head's S and Z"), tr("Zero head's S and Z"), tr("Clear layer's state"),
                       tr("Copy layer's state from the original"), tr("Edit the next input"),
                       tr("Edit the next token (a fork)"), tr("Clear head's key/value cache")});
    action_->setToolTip(
        tr("Each intervention branches the run at the viewed step; the branch is stepped beside "
           "its original (the run without interventions), which stays in the Runs pane, dashed"));
    role_->addItems({tr("self attention"), tr("cross attention")});
    // The dock stays narrow beside the plots: long choices are cut in the closed box, not the layout.
    action_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    action_->setMinimumContentsLength(14);
    factor_->setRange(-1000, 1000);
    factor_->setDecimals(3);
    factor_->setValue(0.5);
    value_->setRange(-1e6, 1e6);
    value_->setDecimals(4);
    value_->setValue(1.0);
    element_->setToolTip(tr("The batch element whose next input changes"));
    index_->setToolTip(tr("The component of the input vector (0 .. d_model − 1)"));
    token_->setPlaceholderText(tr("k3+v9, or a character"));
    token_->setToolTip(
        tr("Token runs: what the batch element reads at the next step instead; the run goes on "
           "from there as a fork, beside its original"));
    auto* form = new QFormLayout;
    form->addRow(tr("Action"), action_);
    form->addRow(tr("Attention"), role_);
    form->addRow(tr("Layer"), layer_);
    form->addRow(tr("Head"), head_);
    form->addRow(tr("Factor"), factor_);
    form->addRow(tr("Batch element"), element_);
    form->addRow(tr("Component"), index_);
    form->addRow(tr("New value"), value_);
    form->addRow(tr("New token"), token_);
    where_->setWordWrap(true);
    list_->setWordWrap(true);
    list_->setStyleSheet(QStringLiteral("color: #444;"));
    // Two columns, so the panel fits a tab under the plots on a 1280 x 720 screen.
    auto* side = new QVBoxLayout;
    side->addWidget(where_);
    side->addWidget(apply_);
    side->addWidget(list_);
    side->addWidget(original_);
    side->addStretch(1);
    auto* layout = new QHBoxLayout(this);
    layout->addLayout(form, 3);
    layout->addLayout(side, 2);
    connect(action_, &QComboBox::currentIndexChanged, this, &IntervenePanel::updateFields);
    connect(role_, &QComboBox::currentIndexChanged, this, &IntervenePanel::updateFields);
    connect(apply_, &QPushButton::clicked, this, &IntervenePanel::apply);
    connect(original_, &QPushButton::clicked, this, &IntervenePanel::originalRequested);
    setRun(TraceStore(), 0, {});
}

void IntervenePanel::setRun(const TraceStore& run, int64_t view_step, const std::vector<Intervention>& interventions) {
    decoder_ = run.decoder();
    layer_->setRange(0, std::max(0, run.layers() - 1));
    element_->setRange(0, std::max(0, run.info().batch - 1));
    // The element edited is the one shown, until the user picks another; showing another element follows it.
    if (std::exchange(shown_element_, run.info().observed) != run.info().observed)
        element_->setValue(run.info().observed);
    index_->setRange(0, std::max(0, run.width() - 1));
    head_->setProperty("self_heads", run.heads(AttentionRole::Self));
    head_->setProperty("cross_heads", run.heads(AttentionRole::Cross));
    // Each role offers what its attention kind can do.
    for (const AttentionRole role : {AttentionRole::Self, AttentionRole::Cross}) {
        const ModelConfig* config = run.has_run() ? &run.info().model->config() : nullptr;
        const bool cross = role == AttentionRole::Cross;
        const bool clears =
            config && (!cross || decoder_) &&
            attention_capabilities(cross ? config->cross_attention_type : config->self_attention()).clear_head;
        head_->setProperty(cross ? "cross_clears" : "self_clears", clears);
    }
    where_->setText(run.has_run() ? tr("Branches at step %1 (scrub the timeline to choose another)").arg(view_step)
                                  : QString());
    QStringList lines;
    for (const Intervention& i : interventions) lines << QStringLiteral("• ") + describe(i);
    list_->setText(lines.isEmpty() ? tr("No interventions: this is an original run.")
                                   : tr("This run is a branch:\n%1").arg(lines.join('\n')));
    original_->setEnabled(!interventions.empty());
    apply_->setProperty("has_run", run.has_run());
    updateFields();
}

int IntervenePanel::element() const { return element_->value(); }

void IntervenePanel::updateFields() {
    const Action a = Action(action_->currentIndex());
    const bool head = a == Action::AblateFromHere || a == Action::AblateWholeRun || a == Action::ScaleHead ||
                      a == Action::ZeroHead || a == Action::ClearHeadCache;
    const bool input = a == Action::EditInput || a == Action::EditToken;
    role_->setEnabled(head && decoder_);
    if (!decoder_) role_->setCurrentIndex(0);
    layer_->setEnabled(!input);
    head_->setEnabled(head);
    factor_->setEnabled(a == Action::ScaleHead);
    element_->setEnabled(input);
    index_->setEnabled(a == Action::EditInput);
    value_->setEnabled(a == Action::EditInput);
    token_->setEnabled(a == Action::EditToken);
    const int heads = head_->property(role_->currentIndex() == 1 ? "cross_heads" : "self_heads").toInt();
    head_->setRange(0, std::max(0, heads - 1));
    const bool clears = head_->property("self_clears").toBool() || head_->property("cross_clears").toBool();
    if (auto* items = qobject_cast<QStandardItemModel*>(action_->model()))
        items->item(int(Action::ClearHeadCache))->setEnabled(clears);
    const bool this_role_clears = head_->property(role_->currentIndex() == 1 ? "cross_clears" : "self_clears").toBool();
    apply_->setEnabled(apply_->property("has_run").toBool() && (a != Action::ClearHeadCache || this_role_clears));
}

void IntervenePanel::choose(Action action, int layer, int head, double number, int element, int index) {
    action_->setCurrentIndex(int(action));
    layer_->setValue(layer);
    head_->setValue(head);
    if (action == Action::ScaleHead) factor_->setValue(number);
    if (action == Action::EditInput) value_->setValue(number);
    element_->setValue(element);
    index_->setValue(index);
}

void IntervenePanel::chooseToken(int element, const QString& tokens) {
    action_->setCurrentIndex(int(Action::EditToken));
    element_->setValue(element);
    token_->setText(tokens);
}

Intervention IntervenePanel::intervention() const {
    Intervention i;
    i.layer = layer_->value();
    i.head = head_->value();
    i.role = role_->currentIndex() == 1 ? AttentionRole::Cross : AttentionRole::Self;
    switch (Action(action_->currentIndex())) {
        case Action::AblateFromHere:
        case Action::AblateWholeRun: i.kind = InterventionKind::AblateHead; break;
        case Action::ScaleHead:
            i.kind = InterventionKind::ScaleHead;
            i.factor = factor_->value();
            break;
        case Action::ZeroHead: i.kind = InterventionKind::ScaleHead; break;
        case Action::ClearLayer: i.kind = InterventionKind::ClearLayer; break;
        case Action::ClearHeadCache: i.kind = InterventionKind::ClearHeadCache; break;
        case Action::CopyFromOriginal: i.kind = InterventionKind::CopyFromOriginal; break;
        case Action::EditInput:
            i.kind = InterventionKind::EditInput;
            i.element = element_->value();
            i.index = index_->value();
            i.value = value_->value();
            break;
        case Action::EditToken:
            i.kind = InterventionKind::EditToken;
            i.element = element_->value();
            i.tokens = token_->text();
            break;
    }
    return i;
}

bool IntervenePanel::wholeRun() const { return Action(action_->currentIndex()) == Action::AblateWholeRun; }

void IntervenePanel::apply() { emit interveneRequested(intervention(), wholeRun()); }

}  // namespace stepscope::ui
