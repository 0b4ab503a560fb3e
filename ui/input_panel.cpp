// Input and memory sources as form widgets, enabled by the chosen source.
#include "input_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QVBoxLayout>

#include <algorithm>
#include <limits>

#include "file_dialogs.h"
#include "strict_spin_box.h"
#include "wheel_guard.h"

namespace stepscope::ui {

namespace {
// How token input is given; the session stores it as text, ids or pairs.
enum class TokenMode { Text, Ids, Recall };

QHBoxLayout* path_row(QLineEdit* edit, QPushButton* button) {
    auto* row = new QHBoxLayout;
    row->addWidget(edit, 1);
    row->addWidget(button);
    return row;
}
}  // namespace

InputPanel::InputPanel(QWidget* parent)
    : QWidget(parent),
      source_(new QComboBox),
      seed_(new StrictSpinBox(0, int(kMaxSeed))),
      period_(new QDoubleSpinBox),
      path_(new QLineEdit),
      batch_(new StrictSpinBox(1, kMaxBatch)),
      sequence_seed_(new StrictSpinBox(0, int(kMaxSeed))),
      tokens_group_(new QGroupBox(tr("Tokens"))),
      token_mode_(new QComboBox),
      token_text_(new QLineEdit),
      pairs_(new StrictSpinBox(1, 128)),
      temperature_(new QDoubleSpinBox),
      memory_group_(new QGroupBox(tr("Decoder memory"))),
      memory_source_(new QComboBox),
      memory_seed_(new StrictSpinBox(0, int(kMaxSeed))),
      memory_length_(new StrictSpinBox(1, kMaxMemoryLength)),
      memory_path_(new QLineEdit),
      error_(new QLabel) {
    source_->addItem(tr("previous output fed back"), int(InputKind::Feedback));
    source_->addItem(tr("random (seeded)"), int(InputKind::Random));
    source_->addItem(tr("sinusoid"), int(InputKind::Sinusoid));
    source_->addItem(tr("file (safetensors x or CSV)"), int(InputKind::File));
    source_->addItem(tr("tokens (a model with a token head)"), int(InputKind::Tokens));
    source_->setToolTip(
        tr("Fed back: each output is the next input, starting from a random x0 (the README's example)"));
    seed_->setToolTip(
        tr("Seed of the random inputs (and of x0 when outputs are fed back); for tokens, of the drawn "
           "recall instances and of sampled generation"));
    sequence_seed_->setToolTip(tr("Seed of random feature maps' draws for this sequence; Reset moves to the next"));
    period_->setRange(1, 1e6);
    period_->setDecimals(1);
    period_->setSuffix(tr(" steps"));
    path_->setPlaceholderText(tr("x (T, N, E) .safetensors, or .csv"));
    batch_->setToolTip(tr("Sequences stepped side by side (N); a file input sets its own"));
    auto* browse_input = new QPushButton(tr("Browse…"));
    auto* form = new QFormLayout;
    form->addRow(tr("Source"), source_);
    form->addRow(tr("Input seed"), seed_);
    form->addRow(tr("Period"), period_);
    form->addRow(tr("File"), path_row(path_, browse_input));
    form->addRow(tr("Batch"), batch_);
    form->addRow(tr("Sequence seed"), sequence_seed_);

    token_mode_->addItem(tr("typed text"), int(TokenMode::Text));
    token_mode_->addItem(tr("token ids"), int(TokenMode::Ids));
    token_mode_->addItem(tr("a fresh recall instance"), int(TokenMode::Recall));
    token_mode_->setToolTip(tr("After the prompt, each prediction is the next input (generation)"));
    token_text_->setPlaceholderText(tr("text, or steps like k3+v9 k3+?"));
    pairs_->setValue(32);
    pairs_->setToolTip(
        tr("Key+value pairs of each drawn instance (one instance per sequence, from the input seed), "
           "then the task's queries"));
    temperature_->setRange(0, 100);
    temperature_->setDecimals(2);
    temperature_->setSingleStep(0.1);
    temperature_->setSpecialValueText(tr("greedy"));
    temperature_->setToolTip(
        tr("Generation after the prompt: greedy at 0, else sampled at this temperature "
           "from the input seed"));
    auto* tokens_form = new QFormLayout(tokens_group_);
    tokens_form->addRow(tr("Given as"), token_mode_);
    tokens_form->addRow(tr("Prompt"), token_text_);
    tokens_form->addRow(tr("Pairs K"), pairs_);
    tokens_form->addRow(tr("Temperature"), temperature_);

    memory_source_->addItem(tr("random, random length per sequence"), int(MemoryKind::Random));
    memory_source_->addItem(tr("file (safetensors memory)"), int(MemoryKind::File));
    memory_length_->setToolTip(tr("S: memory elements per sequence; each sequence masks a random tail"));
    memory_path_->setPlaceholderText(tr("memory (N, S, E), memory_lengths (N)"));
    auto* browse_memory = new QPushButton(tr("Browse…"));
    auto* memory_form = new QFormLayout(memory_group_);
    memory_form->addRow(tr("Source"), memory_source_);
    memory_form->addRow(tr("Seed"), memory_seed_);
    memory_form->addRow(tr("Length S"), memory_length_);
    memory_form->addRow(tr("File"), path_row(memory_path_, browse_memory));

    error_->setWordWrap(true);
    error_->setStyleSheet(QStringLiteral("color: #c62828; font-size: 8pt;"));
    error_->setVisible(false);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(form);
    layout->addWidget(tokens_group_);
    layout->addWidget(memory_group_);
    layout->addWidget(error_);

    connect(browse_input, &QPushButton::clicked, this, [this] {
        const QString path = browse(tr("Input sequence"), tr("Sequences (*.safetensors *.csv);;All files (*)"));
        if (!path.isEmpty()) {
            path_->setText(path);
            source_->setCurrentIndex(source_->findData(int(InputKind::File)));
        }
    });
    connect(browse_memory, &QPushButton::clicked, this, [this] {
        const QString path = browse(tr("Decoder memory"), tr("safetensors (*.safetensors);;All files (*)"));
        if (!path.isEmpty()) {
            memory_path_->setText(path);
            memory_source_->setCurrentIndex(memory_source_->findData(int(MemoryKind::File)));
        }
    });
    for (QComboBox* combo : {source_, memory_source_, token_mode_})
        connect(combo, &QComboBox::currentIndexChanged, this, [this] {
            updateEnabled();
            showError({});
            emit changed();
        });
    // A refusal is about the input it named: choosing another one takes the message away.
    for (QLineEdit* edit : {path_, memory_path_, token_text_})
        connect(edit, &QLineEdit::textChanged, this, [this] { showError({}); });
    take_wheel_only_when_focused(this);
    fill(SessionSpec{});
}

QString InputPanel::errorText() const { return error_->isHidden() ? QString() : error_->text(); }

QString InputPanel::browse(const QString& title, const QString& filter) {
    return open_file_dialog(this, QStringLiteral("input"), title, filter);
}

void InputPanel::fill(const SessionSpec& spec) {
    source_->setCurrentIndex(source_->findData(int(spec.input.kind)));
    seed_->setValue(int(spec.input.seed));
    period_->setValue(spec.input.period);
    path_->setText(spec.input.path);
    batch_->setValue(spec.batch);
    sequence_seed_->setValue(int(spec.sequence_seed));
    memory_source_->setCurrentIndex(memory_source_->findData(int(spec.memory.kind)));
    memory_seed_->setValue(int(spec.memory.seed));
    memory_length_->setValue(spec.memory.length);
    memory_path_->setText(spec.memory.path);
    const TokenMode mode = spec.input.pairs > 0 ? TokenMode::Recall : spec.input.ids ? TokenMode::Ids : TokenMode::Text;
    token_mode_->setCurrentIndex(token_mode_->findData(int(mode)));
    token_text_->setText(spec.input.text);
    if (spec.input.pairs > 0) pairs_->setValue(spec.input.pairs);
    temperature_->setValue(spec.input.temperature);
    setDecoder(spec.config.kind == ModelKind::Decoder);
    // The source may be the one shown already (no signal): what it enables follows it all the same.
    updateEnabled();
    showError({});
}

void InputPanel::setTokenModel(bool tokens) {
    token_model_ = tokens;
    if (auto* items = qobject_cast<QStandardItemModel*>(source_->model())) {
        QStandardItem* item = items->item(source_->findData(int(InputKind::Tokens)));
        item->setEnabled(tokens);
        item->setToolTip(tokens ? QString() : tr("Needs a model with a token head (File ▸ Open demo model)"));
    }
    updateEnabled();
}

bool InputPanel::apply(SessionSpec& spec) {
    const auto kind = InputKind(source_->currentData().toInt());
    const auto memory_kind = MemoryKind(memory_source_->currentData().toInt());
    if (kind == InputKind::File && path_->text().trimmed().isEmpty()) {
        showError(tr("Choose an input file, or another source"));
        return false;
    }
    const auto mode = TokenMode(token_mode_->currentData().toInt());
    if (kind == InputKind::Tokens && mode != TokenMode::Recall && token_text_->text().trimmed().isEmpty()) {
        showError(tr("Type a prompt, or draw a recall instance"));
        return false;
    }
    if (memory_group_->isEnabled() && memory_kind == MemoryKind::File && memory_path_->text().trimmed().isEmpty()) {
        showError(tr("Choose a memory file, or random memory"));
        return false;
    }
    // A typed number out of range is refused as typed, never silently changed.
    const std::pair<StrictSpinBox*, QString> numbers[] = {{seed_, tr("Input seed")},
                                                          {batch_, tr("Batch")},
                                                          {sequence_seed_, tr("Sequence seed")},
                                                          {pairs_, tr("Pairs K")},
                                                          {memory_seed_, tr("Memory seed")},
                                                          {memory_length_, tr("Length S")}};
    for (const auto& [box, name] : numbers) {
        if (!box->isEnabled() || !box->isVisibleTo(this) || box->rangeError().isEmpty()) continue;
        showError(tr("%1: %2").arg(name, box->rangeError()));
        return false;
    }
    spec.input.kind = kind;
    spec.input.seed = uint64_t(seed_->value());
    spec.input.period = period_->value();
    spec.input.path = path_->text().trimmed();
    spec.input.text = token_text_->text();
    spec.input.ids = mode == TokenMode::Ids;
    spec.input.pairs = mode == TokenMode::Recall ? pairs_->value() : 0;
    spec.input.temperature = temperature_->value();
    spec.batch = batch_->value();
    spec.sequence_seed = uint64_t(sequence_seed_->value());
    spec.memory.kind = memory_kind;
    spec.memory.seed = uint64_t(memory_seed_->value());
    spec.memory.length = memory_length_->value();
    spec.memory.path = memory_path_->text().trimmed();
    showError({});
    return true;
}

void InputPanel::setDecoder(bool decoder) {
    memory_group_->setEnabled(decoder);
    memory_group_->setToolTip(decoder ? QString() : tr("Only decoders read a memory"));
}

void InputPanel::showError(const QString& message) {
    error_->setText(message);
    error_->setVisible(!message.isEmpty());
    fitError();
}

void InputPanel::fitError() {
    const int width = std::max(120, this->width());
    error_->setMinimumHeight(error_->text().isEmpty() ? 0 : error_->heightForWidth(width));
}

void InputPanel::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    fitError();
}

void InputPanel::updateEnabled() {
    const auto kind = InputKind(source_->currentData().toInt());
    seed_->setEnabled(kind == InputKind::Random || kind == InputKind::Feedback || kind == InputKind::Tokens);
    tokens_group_->setVisible(kind == InputKind::Tokens);
    tokens_group_->setEnabled(token_model_);
    tokens_group_->setToolTip(token_model_ ? QString() : tr("The model has no token head: token input needs one"));
    const auto mode = TokenMode(token_mode_->currentData().toInt());
    token_text_->setEnabled(mode != TokenMode::Recall);
    pairs_->setEnabled(mode == TokenMode::Recall);
    token_text_->setPlaceholderText(mode == TokenMode::Ids ? tr("ids, a step's joined by +: 3+137 3+256")
                                                           : tr("text, or steps like k3+v9 k3+?"));
    period_->setEnabled(kind == InputKind::Sinusoid);
    path_->setEnabled(kind == InputKind::File);
    batch_->setEnabled(kind != InputKind::File);
    const bool memory_file = MemoryKind(memory_source_->currentData().toInt()) == MemoryKind::File;
    memory_seed_->setEnabled(!memory_file);
    memory_length_->setEnabled(!memory_file);
    memory_path_->setEnabled(memory_file);
}

}  // namespace stepscope::ui
