// The attention role, layer and (for the heatmap) head that a per-layer plot shows, as one row of selectors.
#pragma once

#include <QWidget>

#include "session/trace_store.h"

class QComboBox;
class QSpinBox;

namespace stepscope::ui {

class LayerSelector : public QWidget {
    Q_OBJECT

public:
    explicit LayerSelector(bool with_head, QWidget* parent = nullptr);

    AttentionRole role() const;
    int layer() const;
    int head() const;  // 0 without a head selector
    // Sets the selection without emitting changed().
    void select(AttentionRole role, int layer, int head = 0);
    // Fits the ranges to the run of `store` (null: none): cross attention only for decoders, the
    // layers it has, the heads of the role chosen. Emits nothing.
    void fitTo(const TraceStore* store);

signals:
    // The user chose another role, layer or head.
    void changed();

private:
    QComboBox* role_;
    QSpinBox* layer_;
    QSpinBox* head_ = nullptr;
    const TraceStore* store_ = nullptr;
};

}  // namespace stepscope::ui
