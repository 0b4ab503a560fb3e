// The model form: widgets per builder parameter, validated on every edit by the engine's own rules.
#include "model_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QVBoxLayout>

#include <cmath>

#include "session/session_spec.h"
#include "stepscope/attention_kind.h"
#include "stepscope/error.h"
#include "stepscope/feature_map.h"
#include "stepscope/memory_budget.h"
#include "strict_spin_box.h"
#include "wheel_guard.h"

namespace stepscope::ui {

namespace {

QStringList to_qt(const std::vector<std::string>& names) {
    QStringList out;
    for (const auto& name : names) out << QString::fromStdString(name);
    return out;
}

QLabel* error_label() {
    auto* label = new QLabel;
    label->setWordWrap(true);
    label->setStyleSheet(QStringLiteral("color: #c62828; font-size: 8pt;"));
    label->setVisible(false);
    return label;
}

void show_error(QLabel* label, const QString& text) {
    label->setText(text);
    label->setVisible(!text.isEmpty());
}

// Keys of decoders only, and of encoders only: disabled for the other kind.
const QStringList kDecoderKeys = {"self_attention_type",    "cross_attention_type",   "cross_n_heads",
                                  "cross_query_dimensions", "cross_value_dimensions", "cross_model_dimensions"};
const QStringList kEncoderKeys = {"attention_type"};

}  // namespace

ModelPanel::ModelPanel(QWidget* parent)
    : QWidget(parent),
      general_error_(error_label()),
      weights_source_(new QLabel),
      weights_seed_(new StrictSpinBox(0, int(kMaxSeed))),
      device_(new QComboBox) {
    auto* form = new QFormLayout;
    form->setRowWrapPolicy(QFormLayout::DontWrapRows);
    form->setFieldGrowthPolicy(QFormLayout::ExpandingFieldsGrow);
    const ModelConfig defaults;
    auto help = [](const QString& what, const QString& fallback) {
        return QStringLiteral("%1\nReference default: %2").arg(what, fallback);
    };
    addField(form, "kind", tr("Model"),
             comboField({"encoder", "decoder"},
                        [](const ModelConfig& c) {
                            return c.kind == ModelKind::Encoder ? QStringLiteral("encoder") : QStringLiteral("decoder");
                        }),
             help(tr("RecurrentEncoderBuilder or RecurrentDecoderBuilder"), "encoder"));
    addField(form, "attention_type", tr("Attention"),
             comboField(to_qt(self_attention_types()),
                        [](const ModelConfig& c) { return QString::fromStdString(c.attention_type); }),
             help(tr("The encoder's attention"), QString::fromStdString(defaults.attention_type)));
    addField(form, "self_attention_type", tr("Self attention"),
             comboField(to_qt(self_attention_types()),
                        [](const ModelConfig& c) { return QString::fromStdString(c.self_attention_type); }),
             help(tr("The decoder's self attention"), QString::fromStdString(defaults.self_attention_type)));
    addField(form, "cross_attention_type", tr("Cross attention"),
             comboField(to_qt(cross_attention_types()),
                        [](const ModelConfig& c) { return QString::fromStdString(c.cross_attention_type); }),
             help(tr("The decoder's attention over its memory"),
                  QString::fromStdString(defaults.cross_attention_type)));
    addField(form, "n_layers", tr("Layers"), spinField(64, &ModelConfig::n_layers),
             help(tr("Number of transformer layers"), QString::number(defaults.n_layers)));
    addField(form, "n_heads", tr("Heads"), spinField(64, &ModelConfig::n_heads),
             help(tr("Attention heads per layer"), QString::number(defaults.n_heads)));
    addField(form, "query_dimensions", tr("Query dims"), spinField(1024, &ModelConfig::query_dimensions),
             help(tr("Width of each head's queries and keys"), QString::number(defaults.query_dimensions)));
    addField(form, "value_dimensions", tr("Value dims"), spinField(1024, &ModelConfig::value_dimensions),
             help(tr("Width of each head's values; d_model = heads x value dims"),
                  QString::number(defaults.value_dimensions)));
    addField(form, "feed_forward_dimensions", tr("Feed-forward dims"),
             spinField(65536, &ModelConfig::feed_forward_dimensions),
             help(tr("Hidden width of each layer's feed-forward block"),
                  QString::number(defaults.feed_forward_dimensions)));
    addField(form, "activation", tr("Activation"),
             comboField(to_qt(activation_names()),
                        [](const ModelConfig& c) { return QString::fromStdString(c.activation); }),
             help(tr("Feed-forward activation"), QString::fromStdString(defaults.activation)));
    {
        Field field;
        auto* box = new QCheckBox;
        field.editor = box;
        field.value = [box]() -> std::optional<ParamValue> { return ParamValue(box->isChecked()); };
        field.load = [box](const ModelConfig& c) { box->setChecked(c.final_normalization); };
        field.set_text = [box](const QString& t) { box->setChecked(t == "true" || t == "1"); };
        field.text = [box] { return box->isChecked() ? QStringLiteral("true") : QStringLiteral("false"); };
        connect(box, &QCheckBox::toggled, this, &ModelPanel::revalidate);
        addField(form, "final_normalization", tr("Final LayerNorm"), field,
                 help(tr("LayerNorm after the last layer"), "true"));
    }
    addField(form, "softmax_temp", tr("Softmax temp."),
             numberField([](const ModelConfig& c) { return c.softmax_temp; }, true),
             help(tr("Full attention's temperature; empty: 1/sqrt(query dims)"), tr("None")));
    addField(form, "eps", tr("Linear attn. eps"), numberField([](const ModelConfig& c) { return c.eps; }, false),
             help(tr("Added to linear attention's normalizer φ(q)·Z before dividing; full attention and "
                     "LayerNorm do not use it"),
                  "1e-06"));
    addField(form, "dropout", tr("Dropout"), numberField([](const ModelConfig& c) { return c.dropout; }, false),
             help(tr("Accepted for compatibility; stepping is inference, so it has no effect"), "0.1"));
    addField(form, "attention_dropout", tr("Attention dropout"),
             numberField([](const ModelConfig& c) { return c.attention_dropout; }, false),
             help(tr("Accepted for compatibility; no effect at inference"), "0.1"));
    addField(form, "feature_map", tr("Feature map"),
             comboField(to_qt(feature_map_names()),
                        [](const ModelConfig& c) { return QString::fromStdString(c.feature_map); }),
             help(tr("phi(x) of linear attention; favor, rff, smoothed-rff and grf are random and drawn per sequence"),
                  QString::fromStdString(defaults.feature_map)));
    addField(form, "feature_map_dimensions", tr("Feature dims"),
             spinField(4096, &ModelConfig::feature_map_dimensions, tr("default")),
             help(tr("Random feature maps' n_dims; 0: the map's default"), tr("the map's default")));
    addField(form, "cross_n_heads", tr("Cross heads"), spinField(64, &ModelConfig::cross_n_heads, tr("= heads")),
             help(tr("Heads of cross attention; 0: as many as self attention"), tr("n_heads")));
    addField(form, "cross_query_dimensions", tr("Cross query dims"),
             spinField(1024, &ModelConfig::cross_query_dimensions, tr("= query dims")),
             help(tr("0: as query dims"), tr("query_dimensions")));
    addField(form, "cross_value_dimensions", tr("Cross value dims"),
             spinField(1024, &ModelConfig::cross_value_dimensions, tr("= value dims")),
             help(tr("0: as value dims"), tr("value_dimensions")));
    addField(form, "cross_model_dimensions", tr("Memory width"),
             spinField(65536, &ModelConfig::cross_model_dimensions, tr("= cross heads x value dims")),
             help(tr("Width of the memory's elements; 0: cross heads x cross value dims"),
                  tr("cross_n_heads x cross_value_dimensions")));
    addField(form, "precision", tr("Weight precision"),
             comboField(to_qt(precision_names()),
                        [](const ModelConfig& c) { return QString::fromStdString(c.precision); }),
             help(tr("Storage of the weights (Stepscope): bfloat16, or 8-bit blocks of 32 with a scale (CPU only)"),
                  "f32"));
    addField(form, "cache_precision", tr("Cache precision"),
             comboField(to_qt(cache_precision_names()),
                        [](const ModelConfig& c) { return QString::fromStdString(c.cache_precision); }),
             help(tr("Storage of softmax attention's key/value cache (Stepscope): bfloat16 halves it (CPU only)"),
                  "f32"));
    // Each kind's own parameters, from its declaration; enabled while a configured kind declares them.
    for (const std::string& kind : attention_kind_names())
        for (const KindParameter& parameter : attention_capabilities(kind).parameters) {
            const QString key = QString::fromStdString(parameter.name);
            if (fields_.contains(key)) continue;
            Field field = numberField(
                [kind, name = parameter.name](const ModelConfig& c) -> std::optional<double> {
                    const bool configured =
                        c.self_attention() == kind || (c.kind == ModelKind::Decoder && c.cross_attention_type == kind);
                    return configured ? std::optional<double>(c.kind_parameter(kind, name)) : std::nullopt;
                },
                true);
            field.value = [editor = field.editor, value = field.value]() -> std::optional<ParamValue> {
                return editor->isEnabled() ? value() : std::nullopt;
            };
            addField(form, key, QString::fromStdString(parameter.label), field,
                     help(QString::fromStdString(parameter.help + " (" + kind + ")"),
                          QString::number(parameter.default_value)));
            kind_parameter_keys_ << key;
        }

    device_->setObjectName(QStringLiteral("device"));
    device_->addItem(tr("CPU"), int(Device::Cpu));
    device_->addItem(tr("CUDA GPU"), int(Device::Cuda));
    device_->setToolTip(tr("Where the model steps; a new run is needed to change it"));
    const DeviceStatus cuda = cuda_status();
    auto* device_note = new QLabel;
    device_note->setWordWrap(true);
    device_note->setStyleSheet(QStringLiteral("color: #555; font-size: 8pt;"));
    if (!cuda.available) {
        const QString reason = QString::fromStdString(cuda.reason);
        auto* items = qobject_cast<QStandardItemModel*>(device_->model());
        items->item(1)->setEnabled(false);
        items->item(1)->setToolTip(reason);
        device_note->setText(tr("CUDA unavailable: %1").arg(reason));
    }
    device_note->setVisible(!cuda.available);
    auto* device_cell = new QVBoxLayout;
    device_cell->setSpacing(1);
    device_cell->addWidget(device_);
    device_cell->addWidget(device_note);
    form->addRow(tr("Device"), device_cell);

    weights_seed_->setToolTip(tr("Seed of the random weights (not used when weights come from a file)"));
    connect(weights_seed_, &QSpinBox::valueChanged, this, &ModelPanel::revalidate);
    auto* load = new QPushButton(tr("Load weights…"));
    load->setToolTip(tr("A safetensors file with the reference's tensor names; its config fills the form"));
    auto* defaults_button = new QPushButton(tr("Reference defaults"));
    defaults_button->setToolTip(tr("Every field to fast-transformers' builder default"));
    auto* weights_row = new QHBoxLayout;
    weights_row->addWidget(weights_seed_);
    weights_row->addWidget(load);
    form->addRow(tr("Weights seed"), weights_row);
    weights_source_->setWordWrap(true);
    weights_source_->setStyleSheet(QStringLiteral("color: #555; font-size: 8pt;"));
    form->addRow(QString(), weights_source_);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(form);
    layout->addWidget(general_error_);
    layout->addWidget(defaults_button, 0, Qt::AlignLeft);
    connect(load, &QPushButton::clicked, this, &ModelPanel::loadWeightsRequested);
    connect(defaults_button, &QPushButton::clicked, this, [this] { setConfig(ModelConfig{}); });
    take_wheel_only_when_focused(this);
    setConfig(ModelConfig{});
}

void ModelPanel::addField(QFormLayout* form, const QString& key, const QString& label, Field field,
                          const QString& help) {
    field.error = error_label();
    field.editor->setToolTip(QStringLiteral("%1\n(parameter '%2')").arg(help, key));
    auto* cell = new QWidget;
    auto* column = new QVBoxLayout(cell);
    column->setContentsMargins(0, 0, 0, 0);
    column->setSpacing(1);
    column->addWidget(field.editor);
    column->addWidget(field.error);
    form->addRow(label, cell);
    fields_.insert(key, field);
}

ModelPanel::Field ModelPanel::comboField(const QStringList& items, std::function<QString(const ModelConfig&)> get) {
    Field field;
    auto* combo = new QComboBox;
    combo->addItems(items);
    field.editor = combo;
    field.value = [combo]() -> std::optional<ParamValue> { return ParamValue(combo->currentText().toStdString()); };
    field.load = [combo, get](const ModelConfig& c) { combo->setCurrentText(get(c)); };
    field.set_text = [combo](const QString& t) { combo->setCurrentText(t); };
    field.text = [combo] { return combo->currentText(); };
    connect(combo, &QComboBox::currentTextChanged, this, [this] {
        updateEnabled();
        revalidate();
    });
    return field;
}

ModelPanel::Field ModelPanel::spinField(int maximum, int ModelConfig::*member, const QString& zero_text) {
    Field field;
    // Zero is allowed where it is impossible, so the engine's message can say why; and whatever is
    // typed ("-5", 99999) goes to the engine as typed, to be refused with its reason.
    auto* spin = new StrictSpinBox(0, maximum, zero_text);
    field.editor = spin;
    field.value = [spin]() -> std::optional<ParamValue> { return ParamValue(int64_t(spin->value())); };
    field.load = [spin, member](const ModelConfig& c) { spin->setValue(c.*member); };
    field.set_text = [spin](const QString& t) { spin->setValue(t.toInt()); };
    field.text = [spin] { return QString::number(spin->value()); };
    connect(spin, &QSpinBox::valueChanged, this, &ModelPanel::revalidate);
    return field;
}

ModelPanel::Field ModelPanel::numberField(std::function<std::optional<double>(const ModelConfig&)> get, bool optional) {
    Field field;
    auto* edit = new QLineEdit;
    if (optional) edit->setPlaceholderText(tr("default"));
    field.editor = edit;
    field.value = [edit, optional]() -> std::optional<ParamValue> {
        const QString text = edit->text().trimmed();
        if (text.isEmpty()) {
            if (optional) return std::nullopt;
            throw Error("enter a number");
        }
        bool ok = false;
        const double value = QLocale::c().toDouble(text, &ok);
        if (!ok || !std::isfinite(value)) throw Error("'" + text.toStdString() + "' is not a number");
        return ParamValue(value);
    };
    field.load = [edit, get](const ModelConfig& c) {
        const auto value = get(c);
        edit->setText(value ? QString::number(*value, 'g', 10) : QString());
    };
    field.set_text = [edit](const QString& t) { edit->setText(t); };
    field.text = [edit] { return edit->text(); };
    connect(edit, &QLineEdit::textChanged, this, &ModelPanel::revalidate);
    return field;
}

Device ModelPanel::device() const { return Device(device_->currentData().toInt()); }

void ModelPanel::setDevice(Device device) { device_->setCurrentIndex(device_->findData(int(device))); }

uint64_t ModelPanel::weightsSeed() const { return uint64_t(weights_seed_->value()); }
void ModelPanel::setWeightsSeed(uint64_t seed) { weights_seed_->setValue(int(seed)); }
void ModelPanel::setWeightsSource(const QString& text, const QString& full_path) {
    weights_source_->setText(tr("Current model: %1").arg(text));
    weights_source_->setToolTip(full_path);
}

QString ModelPanel::weightsSource() const { return weights_source_->text(); }

QString ModelPanel::helpFor(const QString& key) const {
    return fields_.contains(key) ? fields_[key].editor->toolTip() : QString();
}

void ModelPanel::setConfig(const ModelConfig& config) {
    loading_ = true;
    for (const Field& field : fields_) field.load(config);
    loading_ = false;
    updateEnabled();
    revalidate();
}

bool ModelPanel::setField(const QString& key, const QString& text) {
    if (!fields_.contains(key)) return false;
    fields_[key].set_text(text);
    return true;
}

QString ModelPanel::fieldText(const QString& key) const {
    return fields_.contains(key) ? fields_[key].text() : QString();
}

QString ModelPanel::errorFor(const QString& key) const {
    if (key.isEmpty()) return general_error_->text();
    return fields_.contains(key) ? fields_[key].error->text() : QString();
}

QString ModelPanel::firstError() const {
    if (!general_error_->text().isEmpty()) return general_error_->text();
    for (const Field& field : fields_)
        if (!field.error->text().isEmpty()) return field.error->text();
    return {};
}

void ModelPanel::showEngineError(const Error& error) {
    const QString message = QString::fromStdString(error.what());
    const QString parameter = QString::fromStdString(error.parameter());
    show_error(fields_.contains(parameter) ? fields_[parameter].error : general_error_, message);
}

void ModelPanel::updateEnabled() {
    const bool decoder = fields_.value("kind").text() == "decoder";
    for (const QString& key : kDecoderKeys) fields_[key].editor->setEnabled(decoder);
    for (const QString& key : kEncoderKeys) fields_[key].editor->setEnabled(!decoder);
    const QStringList types =
        decoder ? QStringList{fields_.value("self_attention_type").text(), fields_.value("cross_attention_type").text()}
                : QStringList{fields_.value("attention_type").text()};
    for (const QString& key : kind_parameter_keys_) {
        bool declared = false;
        for (const QString& type : types)
            for (const KindParameter& parameter : attention_capabilities(type.toStdString()).parameters)
                declared = declared || key.toStdString() == parameter.name;
        fields_[key].editor->setEnabled(declared);
    }
}

void ModelPanel::revalidate() {
    if (loading_) return;
    for (const Field& field : fields_) show_error(field.error, {});
    show_error(general_error_, {});
    ModelConfig config;
    bool ok = true;
    for (auto it = fields_.cbegin(); it != fields_.cend(); ++it) {
        try {
            if (const auto value = it->value()) set_parameter(config, it.key().toStdString(), *value);
        } catch (const Error& e) {
            show_error(it->error, QString::fromStdString(e.what()));
            ok = false;
        }
    }
    if (ok) {
        try {
            require_model_fits(config);
        } catch (const Error& e) {
            showEngineError(e);
            ok = false;
        }
    }
    if (const QString seed = weights_seed_->rangeError(); !seed.isEmpty()) {
        show_error(general_error_, tr("Weights seed: %1").arg(seed));
        ok = false;
    }
    config_ = ok ? std::optional<ModelConfig>(config) : std::nullopt;
    emit validityChanged(ok);
}

}  // namespace stepscope::ui
