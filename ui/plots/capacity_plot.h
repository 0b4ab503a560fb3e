// Plot: how much one layer's attention state holds over steps, per head (effective rank, ||Z||, phi(q).Z; cache and row
// entropy).
#pragma once

#include "plots/time_plot.h"

class QComboBox;

namespace stepscope::ui {

class LayerSelector;

class CapacityPlot : public TimePlot {
    Q_OBJECT

public:
    enum class Quantity {
        EffectiveRank = 0,
        NormalizerNorm,
        Denominator,
        MinDenominator,
        CacheLength,
        RowEntropy,
        ReadBack  // recall token models, either attention: the stored pairs read back through the state
    };

    explicit CapacityPlot(QWidget* parent = nullptr);

    void select(AttentionRole role, int layer, Quantity quantity);
    void rebuild() override;
    AttentionRole role() const;
    int layer() const;
    // Whether the quantity shown needs the layer observed (all but ||Z|| and the cache length).
    bool needsObservation() const;
    bool needsSpectrum() const;
    // Whether the quantity shown is the stored pairs read back (ObservationOptions::read_back).
    bool needsReadBack() const;
    // The steps whose quantity was not recorded for the layer and element shown.
    ViewRequest missingObservations() const override;
    QString notExported() const override;

protected:
    std::vector<Series> series(const TraceStore& store) const override;
    QString yLabel() const override;
    QString emptyNote() const override;

private:
    void updateSelectors();
    Quantity quantity() const;

    LayerSelector* selector_;
    QComboBox* quantity_;
};

}  // namespace stepscope::ui
