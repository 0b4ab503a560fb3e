// One row of role, layer and head selectors, its ranges following the run shown.
#include "plots/layer_selector.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QSignalBlocker>
#include <QSpinBox>

#include <algorithm>

namespace stepscope::ui {

LayerSelector::LayerSelector(bool with_head, QWidget* parent)
    : QWidget(parent), role_(new QComboBox), layer_(new QSpinBox) {
    auto* row = new QHBoxLayout(this);
    row->setContentsMargins(0, 0, 0, 0);
    role_->addItems({tr("self attention"), tr("cross attention")});
    layer_->setPrefix(tr("layer "));
    row->addWidget(role_);
    row->addWidget(layer_);
    if (with_head) {
        head_ = new QSpinBox;
        head_->setPrefix(tr("head "));
        row->addWidget(head_);
        connect(head_, &QSpinBox::valueChanged, this, &LayerSelector::changed);
    }
    // Self and cross attention may have different numbers of heads.
    connect(role_, &QComboBox::currentIndexChanged, this, [this] {
        fitTo(store_);
        emit changed();
    });
    connect(layer_, &QSpinBox::valueChanged, this, &LayerSelector::changed);
}

AttentionRole LayerSelector::role() const {
    return role_->currentIndex() == 1 ? AttentionRole::Cross : AttentionRole::Self;
}

int LayerSelector::layer() const { return layer_->value(); }

int LayerSelector::head() const { return head_ ? head_->value() : 0; }

void LayerSelector::select(AttentionRole role, int layer, int head) {
    const QSignalBlocker b1(role_), b2(layer_), b3(head_);
    role_->setCurrentIndex(role == AttentionRole::Cross ? 1 : 0);
    fitTo(store_);
    layer_->setValue(layer);
    if (head_) head_->setValue(head);
}

void LayerSelector::fitTo(const TraceStore* store) {
    store_ = store;
    const QSignalBlocker b1(role_), b2(layer_), b3(head_);
    const bool decoder = store && store->decoder();
    role_->setEnabled(decoder);
    if (!decoder) role_->setCurrentIndex(0);
    layer_->setRange(0, std::max(0, (store ? store->layers() : 1) - 1));
    if (head_) head_->setRange(0, std::max(0, (store ? store->heads(role()) : 1) - 1));
}

}  // namespace stepscope::ui
