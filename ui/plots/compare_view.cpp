// The Compare-models view: two log-x panels over one legend, fed by the ComparisonRunner's curves.
#include "plots/compare_view.h"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLocale>
#include <QToolTip>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "file_dialogs.h"
#include "plots/plot_style.h"
#include "qcustomplot.h"
#include "session/comparison_runner.h"
#include "session/demo_models.h"
#include "session/file_kind.h"

namespace stepscope::ui {

namespace {

constexpr const char* kModelIndex = "compareModel";

bool is_recall_model(const QString& path) {
    try {
        const auto metadata = safetensors_metadata(path);
        const auto task = metadata.find("task");
        if (task == metadata.end()) return false;
        return QJsonDocument::fromJson(QByteArray::fromStdString(task->second)).object().value("name").toString() ==
               QLatin1String("recall");
    } catch (const std::exception&) {
        return false;
    }
}

// "16.9 KB": the state-bytes axis reads in the units a memory budget is given in.
class ByteTicker : public LogTicker {
protected:
    QString getTickLabel(double tick, const QLocale&, QChar, int) override {
        if (tick >= 1e6) return QStringLiteral("%1 MB").arg(tick / 1e6, 0, 'g', 3);
        if (tick >= 1e3) return QStringLiteral("%1 KB").arg(tick / 1e3, 0, 'g', 3);
        return QStringLiteral("%1 B").arg(tick, 0, 'g', 3);
    }
};

// A log axis over [smallest, largest] padded by a tenth of the span on each side, and at least a decade
// wide: a fixed state's single x stays off the edges.
void log_range(QCPAxis* axis, double smallest, double largest) {
    if (!(smallest > 0) || !(largest > 0)) return;
    double low = std::log10(smallest), high = std::log10(largest);
    const double pad = std::max(0.1 * (high - low), 0.5 * std::max(0.0, 1.0 - (high - low)));
    axis->setRange(std::pow(10, low - pad), std::pow(10, high + pad));
}

}  // namespace

CompareView::CompareView(QWidget* parent)
    : QWidget(parent),
      runner_(new ComparisonRunner(this)),
      plot_(new QCustomPlot),
      add_(new QPushButton(tr("Add model…"))),
      again_(new QPushButton(tr("Evaluate again"))),
      progress_(new QProgressBar),
      status_(new QLabel) {
    add_->setToolTip(tr("Add a recall model file to the comparison"));
    again_->setToolTip(tr("Evaluate every listed model on its stored evaluation set again"));
    progress_->setRange(0, 1000);
    progress_->setTextVisible(false);
    progress_->setMaximumWidth(220);
    progress_->setVisible(false);
    status_->setWordWrap(true);
    auto* controls = new QHBoxLayout;
    controls->addWidget(add_);
    controls->addWidget(again_);
    controls->addWidget(progress_);
    controls->addWidget(status_, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(controls);
    layout->addWidget(plot_, 1);

    style_plot(plot_, tr("Recall against stored pairs and state bytes, one curve per model"));
    plot_->setInteractions({});
    // Row 1 becomes two axis rects side by side under the one title and over the one legend.
    pairs_rect_ = plot_->axisRect();
    plot_->plotLayout()->take(pairs_rect_);
    auto* panels = new QCPLayoutGrid;
    plot_->plotLayout()->addElement(1, 0, panels);
    bytes_rect_ = new QCPAxisRect(plot_);
    panels->addElement(0, 0, pairs_rect_);
    panels->addElement(0, 1, bytes_rect_);
    plot_->plotLayout()->setRowStretchFactor(1, 1);
    QFont font = plot_->font();
    for (QCPAxisRect* rect : {pairs_rect_, bytes_rect_}) {
        for (QCPAxis* axis : rect->axes()) {
            axis->setLabelFont(font);
            axis->setTickLabelFont(font);
        }
        rect->axis(QCPAxis::atBottom)->setScaleType(QCPAxis::stLogarithmic);
        rect->axis(QCPAxis::atLeft)->setRange(-0.02, 1.02);
        set_axis_label(rect->axis(QCPAxis::atLeft), tr("accuracy"));
    }
    auto pairs_ticker = QSharedPointer<QCPAxisTickerLog>::create();
    pairs_ticker->setLogBase(2);
    pairs_ticker->setSubTickCount(0);
    pairs_rect_->axis(QCPAxis::atBottom)->setTicker(pairs_ticker);
    pairs_rect_->axis(QCPAxis::atBottom)->setLabel(QString::fromStdString(comparison_position_name({})));
    bytes_rect_->axis(QCPAxis::atBottom)->setTicker(QSharedPointer<ByteTicker>::create());
    set_axis_label(bytes_rect_->axis(QCPAxis::atBottom), tr("attention state per sequence"));

    connect(plot_, &QCustomPlot::plottableClick, this,
            [this](QCPAbstractPlottable* plottable, int data_index, QMouseEvent*) {
                if (auto* clicked = qobject_cast<QCPCurve*>(plottable)) onClicked(clicked, data_index);
            });
    // Hovering a point names it, as the SVG of eval --compare does.
    connect(plot_, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
        const QString text = pointText(event->pos());
        if (text.isEmpty()) QToolTip::hideText();
        else QToolTip::showText(event->globalPosition().toPoint(), text, plot_);
    });
    connect(add_, &QPushButton::clicked, this, [this] {
        const QString path = open_file_dialog(this, QStringLiteral("weights"), tr("Add a model to compare"),
                                              tr("safetensors (*.safetensors);;All files (*)"));
        if (!path.isEmpty()) addModel(path);
    });
    connect(again_, &QPushButton::clicked, this, &CompareView::evaluate);
    connect(runner_, &ComparisonRunner::progress, this, [this](int index, int count, qint64 done, qint64 total) {
        progress_->setValue(int(1000 * (index + double(done) / double(std::max<qint64>(total, 1))) / count));
        if (index < queued_.size())
            status_->setText(tr("Evaluating %1 (%2 of %3) on its stored instances…")
                                 .arg(QFileInfo(queued_[index]).baseName())
                                 .arg(index + 1)
                                 .arg(count));
    });
    connect(runner_, &ComparisonRunner::evaluated, this, &CompareView::onEvaluated);
    connect(runner_, &ComparisonRunner::failed, this, &CompareView::onFailed);
    connect(runner_, &ComparisonRunner::finished, this, [this](bool cancelled) {
        if (cancelled) return;  // the evaluate() that cancelled it says what comes next
        queued_.clear();
        progress_->setVisible(false);
        again_->setEnabled(true);
        status_->setText(statusText());
        evaluateMissing();
    });

    for (const DemoModel& demo : demo_models())
        if (is_recall_model(demo.path)) paths_ << demo.path;
    status_->setText(statusText());
    redraw();
}

bool CompareView::busy() const { return runner_->busy(); }

bool CompareView::settled() const {
    return !busy() && curves_.size() + size_t(failures_.size()) >= size_t(paths_.size());
}

void CompareView::addModel(const QString& path) {
    const QString absolute = QFileInfo(path).absoluteFilePath();
    if (paths_.contains(absolute)) return;
    paths_ << absolute;
    if (shown_ && !busy()) evaluateMissing();
}

void CompareView::evaluate() {
    curve_paths_.clear();
    curves_.clear();
    failures_.clear();
    redraw();
    queued_.clear();
    evaluateMissing();
    if (queued_.isEmpty()) runner_->cancel();
}

void CompareView::evaluateMissing() {
    QStringList missing;
    for (const QString& path : paths_)
        if (!curve_paths_.contains(path) && !std::any_of(failures_.begin(), failures_.end(), [&](const QString& f) {
                return f.startsWith(QFileInfo(path).baseName() + QStringLiteral(": "));
            }))
            missing << path;
    if (missing.isEmpty()) return;
    queued_ = missing;
    progress_->setValue(0);
    progress_->setVisible(true);
    again_->setEnabled(false);
    runner_->evaluate(missing);
}

void CompareView::showEvent(QShowEvent* event) {
    QWidget::showEvent(event);
    if (shown_) return;
    shown_ = true;
    evaluateMissing();
}

void CompareView::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    fit_decorations(plot_, plot_->width(), plot_->height());
}

void CompareView::onEvaluated(const QString& path, const ComparedModel& curve) {
    if (!paths_.contains(path) || curve_paths_.contains(path)) return;
    if (const std::string mismatch = comparison_mismatch(curves_, curve); !mismatch.empty()) {
        onFailed(path, QString::fromStdString(mismatch));
        return;
    }
    // Kept in the order of the list, whatever order the answers came in.
    int at = 0;
    while (at < curve_paths_.size() && paths_.indexOf(curve_paths_[at]) < paths_.indexOf(path)) ++at;
    curve_paths_.insert(at, path);
    curves_.insert(curves_.begin() + at, curve);
    redraw();
}

void CompareView::onFailed(const QString& path, const QString& message) {
    failures_ << QStringLiteral("%1: %2").arg(QFileInfo(path).baseName(), message.left(200));
    status_->setText(statusText());
}

QString CompareView::statusText() const {
    QString text;
    if (paths_.isEmpty()) text = tr("No recall models: add one with Add model…");
    else if (curves_.empty() && failures_.isEmpty()) text = tr("%n model(s) to evaluate", nullptr, int(paths_.size()));
    else
        text =
            tr("%n model(s) on their stored evaluation sets. Click a point to open that model on a fresh "
               "instance of that K.",
               nullptr, int(curves_.size()));
    if (!failures_.isEmpty())
        text += QStringLiteral(" ") + tr("Not compared: %1").arg(failures_.join(QStringLiteral("; ")));
    return text;
}

QCPCurve* CompareView::curve(int index, bool bytes) const {
    const auto& curves = bytes ? bytes_curves_ : pairs_curves_;
    return index >= 0 && size_t(index) < curves.size() ? curves[size_t(index)] : nullptr;
}

QPoint CompareView::pointPosition(int index, int point, bool bytes) const {
    const ComparedModel& model = curves_.at(size_t(index));
    const ComparedPoint& p = model.points.at(size_t(point));
    const QCPAxisRect* rect = bytes ? bytes_rect_ : pairs_rect_;
    const double x = rect->axis(QCPAxis::atBottom)->coordToPixel(bytes ? p.state_bytes : p.position);
    const double y = rect->axis(QCPAxis::atLeft)->coordToPixel(p.value);
    return QPoint(int(std::lround(x)), int(std::lround(y)));
}

QString CompareView::pointText(const QPoint& at) const {
    constexpr double kReach = 8;                        // pixels, QCustomPlot's selection tolerance
    for (int m = int(curves_.size()) - 1; m >= 0; --m)  // the curve drawn last lies on top
        for (int p = 0; p < int(curves_[size_t(m)].points.size()); ++p)
            for (const bool bytes : {false, true})
                if (QLineF(at, pointPosition(m, p, bytes)).length() <= kReach) {
                    const ComparedPoint& point = curves_[size_t(m)].points[size_t(p)];
                    return tr("%1: %2, %3 %4, state %5 bytes; click to open it on an instance of that K")
                        .arg(QString::fromStdString(curves_[size_t(m)].label), QString::fromStdString(point.group),
                             QString::fromStdString(curves_[size_t(m)].metric))
                        .arg(point.value, 0, 'f', 3)
                        .arg(QLocale().toString(point.state_bytes, 'f', 0));
                }
    return {};
}

void CompareView::redraw() {
    plot_->clearPlottables();
    pairs_curves_.clear();
    bytes_curves_.clear();
    double small_x = INFINITY, large_x = 0, small_b = INFINITY, large_b = 0;
    for (size_t i = 0; i < curves_.size(); ++i) {
        const ComparedModel& model = curves_[i];
        for (const bool bytes : {false, true}) {
            QCPAxisRect* rect = bytes ? bytes_rect_ : pairs_rect_;
            auto* drawn = new QCPCurve(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
            const QColor colour = series_color(int(i));
            drawn->setPen(QPen(colour, 2));
            drawn->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, colour, colour, 7));
            drawn->setName(QString::fromStdString(model.label));
            drawn->setProperty(kModelIndex, int(i));
            // The point's index is its t, so a click's data index is the group it stands for.
            for (size_t p = 0; p < model.points.size(); ++p) {
                const ComparedPoint& point = model.points[p];
                drawn->addData(double(p), bytes ? point.state_bytes : point.position, point.value);
            }
            if (bytes) drawn->removeFromLegend();
            (bytes ? bytes_curves_ : pairs_curves_).push_back(drawn);
        }
        for (const ComparedPoint& point : model.points) {
            small_x = std::min(small_x, point.position), large_x = std::max(large_x, point.position);
            small_b = std::min(small_b, point.state_bytes), large_b = std::max(large_b, point.state_bytes);
        }
    }
    if (!curves_.empty()) {
        // Accuracy runs 0 to 1; another metric (bits per character of text models) spans its values.
        const bool accuracy = curves_.front().metric == "accuracy";
        double low = 0, high = 1;
        if (!accuracy) {
            low = INFINITY, high = -INFINITY;
            for (const ComparedModel& model : curves_)
                for (const ComparedPoint& point : model.points)
                    low = std::min(low, point.value), high = std::max(high, point.value);
        }
        const double pad = std::max(0.02 * (high - low), 0.01);
        for (QCPAxisRect* rect : {pairs_rect_, bytes_rect_}) {
            rect->axis(QCPAxis::atLeft)->setRange(low - pad, high + pad);
            set_axis_label(rect->axis(QCPAxis::atLeft),
                           accuracy ? tr("accuracy") : QString::fromStdString(curves_.front().metric));
        }
        pairs_rect_->axis(QCPAxis::atBottom)->setLabel(QString::fromStdString(comparison_position_name(curves_)));
        log_range(pairs_rect_->axis(QCPAxis::atBottom), small_x, large_x);
        log_range(bytes_rect_->axis(QCPAxis::atBottom), small_b, large_b);
    }
    fit_decorations(plot_, std::max(plot_->width(), 200), std::max(plot_->height(), 200));
    plot_->replot();
}

void CompareView::onClicked(QCPCurve* clicked, int data_index) {
    const int index = clicked->property(kModelIndex).toInt();
    if (index < 0 || size_t(index) >= curves_.size()) return;
    const ComparedModel& model = curves_[size_t(index)];
    if (data_index < 0 || size_t(data_index) >= model.points.size()) return;
    const ComparedPoint& point = model.points[size_t(data_index)];
    if (model.task != "recall" || point.group.rfind("K=", 0) != 0) return;
    emit openRequested(curve_paths_.at(index), int(point.position));
}

}  // namespace stepscope::ui
