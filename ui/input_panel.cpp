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
#include <QVBoxLayout>

#include <limits>

#include "file_dialogs.h"
#include "wheel_guard.h"

namespace stepscope::ui {

namespace {
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
      seed_(new QSpinBox),
      period_(new QDoubleSpinBox),
      path_(new QLineEdit),
      batch_(new QSpinBox),
      sequence_seed_(new QSpinBox),
      memory_group_(new QGroupBox(tr("Decoder memory"))),
      memory_source_(new QComboBox),
      memory_seed_(new QSpinBox),
      memory_length_(new QSpinBox),
      memory_path_(new QLineEdit),
      error_(new QLabel) {
    source_->addItem(tr("previous output fed back"), int(InputKind::Feedback));
    source_->addItem(tr("random (seeded)"), int(InputKind::Random));
    source_->addItem(tr("sinusoid"), int(InputKind::Sinusoid));
    source_->addItem(tr("file (safetensors x or CSV)"), int(InputKind::File));
    source_->setToolTip(tr("Fed back: each output is the next input, starting from a random x0 (the README's example)"));
    for (QSpinBox* seed : {seed_, sequence_seed_, memory_seed_}) seed->setRange(0, int(kMaxSeed));
    seed_->setToolTip(tr("Seed of the random inputs (and of x0 when outputs are fed back)"));
    sequence_seed_->setToolTip(tr("Seed of random feature maps' draws for this sequence; Reset moves to the next"));
    period_->setRange(1, 1e6);
    period_->setDecimals(1);
    period_->setSuffix(tr(" steps"));
    path_->setPlaceholderText(tr("x (T, N, E) .safetensors, or .csv"));
    batch_->setRange(1, kMaxBatch);
    batch_->setToolTip(tr("Sequences stepped side by side (N); a file input sets its own"));
    auto* browse_input = new QPushButton(tr("Browse…"));
    auto* form = new QFormLayout;
    form->addRow(tr("Source"), source_);
    form->addRow(tr("Input seed"), seed_);
    form->addRow(tr("Period"), period_);
    form->addRow(tr("File"), path_row(path_, browse_input));
    form->addRow(tr("Batch"), batch_);
    form->addRow(tr("Sequence seed"), sequence_seed_);

    memory_source_->addItem(tr("random, random length per sequence"), int(MemoryKind::Random));
    memory_source_->addItem(tr("file (safetensors memory)"), int(MemoryKind::File));
    memory_length_->setRange(1, kMaxMemoryLength);
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
    for (QComboBox* combo : {source_, memory_source_})
        connect(combo, &QComboBox::currentIndexChanged, this, [this] {
            updateEnabled();
            showError({});
            emit changed();
        });
    // A refusal is about the input it named: choosing another one takes the message away.
    for (QLineEdit* edit : {path_, memory_path_}) connect(edit, &QLineEdit::textChanged, this, [this] { showError({}); });
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
    setDecoder(spec.config.kind == ModelKind::Decoder);
    showError({});
}

bool InputPanel::apply(SessionSpec& spec) {
    const auto kind = InputKind(source_->currentData().toInt());
    const auto memory_kind = MemoryKind(memory_source_->currentData().toInt());
    if (kind == InputKind::File && path_->text().trimmed().isEmpty()) {
        showError(tr("Choose an input file, or another source"));
        return false;
    }
    if (memory_group_->isEnabled() && memory_kind == MemoryKind::File && memory_path_->text().trimmed().isEmpty()) {
        showError(tr("Choose a memory file, or random memory"));
        return false;
    }
    spec.input.kind = kind;
    spec.input.seed = uint64_t(seed_->value());
    spec.input.period = period_->value();
    spec.input.path = path_->text().trimmed();
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
}

void InputPanel::updateEnabled() {
    const auto kind = InputKind(source_->currentData().toInt());
    seed_->setEnabled(kind == InputKind::Random || kind == InputKind::Feedback);
    period_->setEnabled(kind == InputKind::Sinusoid);
    path_->setEnabled(kind == InputKind::File);
    batch_->setEnabled(kind != InputKind::File);
    const bool memory_file = MemoryKind(memory_source_->currentData().toInt()) == MemoryKind::File;
    memory_seed_->setEnabled(!memory_file);
    memory_length_->setEnabled(!memory_file);
    memory_path_->setEnabled(memory_file);
}

}  // namespace stepscope::ui
