// The model form: every builder parameter with the reference defaults, the engine's errors next to each field.
#pragma once

#include <QMap>
#include <QWidget>

#include <cstdint>
#include <functional>
#include <optional>

#include "stepscope/config.h"
#include "stepscope/error.h"
#include "stepscope/stepper.h"

class QComboBox;
class QFormLayout;
class QLabel;
class QSpinBox;

namespace stepscope::ui {

class StrictSpinBox;

class ModelPanel : public QWidget {
    Q_OBJECT

public:
    explicit ModelPanel(QWidget* parent = nullptr);

    // The form's config when the engine accepts it.
    std::optional<ModelConfig> config() const { return config_; }
    uint64_t weightsSeed() const;
    void setWeightsSeed(uint64_t seed);
    void setConfig(const ModelConfig& config);
    // Where the model steps; CUDA is greyed out, with the reason beside it, when unavailable.
    Device device() const;
    void setDevice(Device device);
    // Says where the current model's weights come from ("random, seed 1", a short file name), the
    // full path in its tooltip.
    void setWeightsSource(const QString& text, const QString& full_path = {});
    QString weightsSource() const;

    // Sets one field from text, as a user would type it; false for an unknown key.
    bool setField(const QString& key, const QString& text);
    QString fieldText(const QString& key) const;
    // The help a field's tooltip gives.
    QString helpFor(const QString& key) const;
    // The message next to `key`'s field; empty when the field is fine.
    QString errorFor(const QString& key) const;
    // The first message on the form, for a status line; empty when the form is fine.
    QString firstError() const;
    // Shows an engine error next to the field of the parameter it names (or under the form when it names none).
    void showEngineError(const Error& error);

signals:
    void validityChanged(bool valid);
    void loadWeightsRequested();

private:
    struct Field {
        QWidget* editor = nullptr;
        QLabel* error = nullptr;
        // The value for set_parameter; nullopt keeps the default; throws Error for unparsable text.
        std::function<std::optional<ParamValue>()> value;
        std::function<void(const ModelConfig&)> load;
        std::function<void(const QString&)> set_text;
        std::function<QString()> text;
    };

    void addField(QFormLayout* form, const QString& key, const QString& label, Field field, const QString& help);
    Field comboField(const QStringList& items, std::function<QString(const ModelConfig&)> get);
    Field spinField(int maximum, int ModelConfig::*member, const QString& zero_text = {});
    Field numberField(std::function<std::optional<double>(const ModelConfig&)> get, bool optional);
    void revalidate();
    void updateEnabled();

    QMap<QString, Field> fields_;
    QStringList kind_parameter_keys_;  // the fields of the parameters kinds declare
    QLabel* general_error_;
    QLabel* weights_source_;
    StrictSpinBox* weights_seed_;
    QComboBox* device_;
    std::optional<ModelConfig> config_;
    bool loading_ = false;
};

}  // namespace stepscope::ui
