// Export dialogs: which plot, what size, where; snapshots go through the worker, which owns the state.
#include "export_controller.h"

#include <QAction>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QSettings>
#include <QSpinBox>

#include "file_dialogs.h"
#include "plots/attention_plot.h"
#include "plots/heatmap_animation.h"
#include "plots/plot_export.h"
#include "plots/plot_panel.h"
#include "plots/plot_view.h"
#include "session/trace_csv.h"
#include "session/session_controller.h"
#include "window_commands.h"

namespace stepscope::ui {

namespace {

const QString kDialogKind = QStringLiteral("export");
constexpr const char* kWidthKey = "export/width";
constexpr const char* kHeightKey = "export/height";

// Asks for the image size (and the plot or the format); remembers the size.
struct ImageChoice {
    bool accepted = false;
    int plot = 0;
    QString format;
    QSize size;
};

ImageChoice ask_image(QWidget* parent, const QStringList& plots, bool ask_format) {
    QDialog dialog(parent);
    dialog.setWindowTitle(ask_format ? QObject::tr("Export all plots") : QObject::tr("Export plot"));
    auto* form = new QFormLayout(&dialog);
    auto* plot = new QComboBox;
    plot->addItems(plots);
    auto* format = new QComboBox;
    format->addItems(image_format_suffixes());
    QSettings settings;
    auto* width = new QSpinBox;
    auto* height = new QSpinBox;
    width->setRange(16, kMaxImageSide);
    height->setRange(16, kMaxImageSide);
    width->setSuffix(QObject::tr(" px"));
    height->setSuffix(QObject::tr(" px"));
    width->setValue(settings.value(kWidthKey, 1200).toInt());
    height->setValue(settings.value(kHeightKey, 800).toInt());
    if (ask_format) form->addRow(QObject::tr("Format"), format);
    else form->addRow(QObject::tr("Plot"), plot);
    form->addRow(QObject::tr("Width"), width);
    form->addRow(QObject::tr("Height"), height);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    form->addRow(buttons);
    QObject::connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
    QObject::connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    ImageChoice choice;
    choice.accepted = dialog.exec() == QDialog::Accepted;
    choice.plot = plot->currentIndex();
    choice.format = format->currentText();
    choice.size = QSize(width->value(), height->value());
    if (choice.accepted) {
        settings.setValue(kWidthKey, width->value());
        settings.setValue(kHeightKey, height->value());
    }
    return choice;
}

}  // namespace

ExportController::ExportController(QWidget* window, PlotPanel* plots, SessionController* run)
    : QObject(window),
      window_(window),
      plots_(plots),
      controller_(run),
      export_plot_(make_action(CommandId::ExportPlot, this)),
      export_all_(make_action(CommandId::ExportAllPlots, this)),
      export_traces_(make_action(CommandId::ExportTraces, this)),
      export_animation_(make_action(CommandId::ExportAnimation, this)),
      save_snapshot_(make_action(CommandId::SaveSnapshot, this)),
      open_snapshot_(make_action(CommandId::OpenSnapshot, this)) {
    connect(export_plot_, &QAction::triggered, this, [this] {
        QStringList names;
        for (PlotView* view : plots_->plots()) names << view->title();
        const ImageChoice choice = ask_image(window_, names, false);
        if (!choice.accepted) return;
        const QString path =
            savePath(tr("Export plot"), image_format_filter(), plots_->plots()[choice.plot]->fileStem() + ".png");
        if (!path.isEmpty()) exportPlot(choice.plot, path, choice.size);
    });
    connect(export_all_, &QAction::triggered, this, [this] {
        const ImageChoice choice = ask_image(window_, {}, true);
        if (!choice.accepted) return;
        const QString dir = folder_dialog(window_, kDialogKind, tr("Export all plots into"));
        if (dir.isEmpty()) return;
        exportAllPlots(dir, choice.format, choice.size);
    });
    connect(export_animation_, &QAction::triggered, this, [this] {
        const QSize size = image_size_dialog(window_, tr("Heatmap animation: frame size"));
        if (size.isEmpty()) return;
        const QString path =
            savePath(tr("Export heatmap animation"), animation_filter(), QStringLiteral("attention.gif"));
        if (!path.isEmpty()) exportAnimation(path, size);
    });
    connect(export_traces_, &QAction::triggered, this, [this] {
        const QString path = savePath(tr("Export traces"), tr("CSV (*.csv)"), QStringLiteral("traces.csv"));
        if (!path.isEmpty()) exportTraces(path);
    });
    connect(save_snapshot_, &QAction::triggered, this, [this] {
        const QString path = savePath(tr("Save snapshot"), tr("Stepscope snapshot (*.safetensors)"),
                                      QStringLiteral("step%1.safetensors").arg(controller_->viewStep()));
        if (!path.isEmpty()) controller_->saveSnapshot(path);
    });
    connect(open_snapshot_, &QAction::triggered, this, [this] {
        if (may_replace_ && !may_replace_()) return;
        const QString path = open_file_dialog(window_, kDialogKind, tr("Open snapshot"),
                                              tr("Stepscope snapshot (*.safetensors);;All files (*)"));
        if (path.isEmpty()) return;
        controller_->openSnapshot(path);
        emit snapshotOpened(path);
    });
}

QString ExportController::savePath(const QString& title, const QString& filters, const QString& default_name) {
    QString selected;
    QString path = save_file_dialog(window_, kDialogKind, title, default_name, filters, &selected);
    if (path.isEmpty()) return {};
    // The filter names the format when the typed name has no suffix.
    if (QFileInfo(path).suffix().isEmpty()) {
        const int open = selected.indexOf("*."), close = selected.indexOf(')', open);
        if (open >= 0 && close > open) path += selected.mid(open + 1, close - open - 1);
    }
    return path;
}

void ExportController::exportPlot(int plot_index, const QString& path, QSize size) {
    PlotView* view = plots_->plots().value(plot_index);
    if (!view) {
        emit failed(tr("There is no plot %1").arg(plot_index));
        return;
    }
    try {
        plots_->refreshNow();
        save_plot(view->plot(), path, size.width(), size.height());
        emit done(tr("Wrote %1").arg(path));
    } catch (const std::exception& e) {
        emit failed(QString::fromStdString(e.what()));
    }
}

void ExportController::exportAllPlots(const QString& directory, const QString& format, QSize size) {
    try {
        const QStringList written = save_all_plots(*plots_, directory, format, size.width(), size.height());
        const QStringList skipped = plots_->skippedPlots();
        QString text = tr("Wrote %1 plots into %2").arg(written.size()).arg(directory);
        // The plots with nothing to draw are named, so a missing file is no surprise.
        if (!skipped.isEmpty()) text += tr("; skipped %1").arg(skipped.join(QStringLiteral("; ")));
        emit done(text);
    } catch (const std::exception& e) {
        emit failed(QString::fromStdString(e.what()));
    }
}

void ExportController::exportAnimation(const QString& path, QSize size) {
    const TraceStore& traces = controller_->traces();
    if (traces.empty()) {
        emit failed(tr("Step the model first: there is no heatmap to animate"));
        return;
    }
    // Weights are kept for the heatmap's window of steps: the animation runs over it, to the viewed step.
    const int64_t last = std::min<int64_t>(controller_->viewStep(), traces.last_step());
    const int64_t first = std::max<int64_t>(traces.base_step() + 1, traces.last_step() - kAttentionWindow + 1);
    try {
        const int frames = write_heatmap_animation(*plots_->attention(), path, size, std::min(first, last), last);
        emit done(
            tr("Wrote %1 (%2 frames, steps %3 to %4)").arg(path).arg(frames).arg(std::min(first, last)).arg(last));
    } catch (const std::exception& e) {
        emit failed(QString::fromStdString(e.what()));
    }
}

void ExportController::exportTraces(const QString& path) {
    try {
        write_traces_csv(path, controller_->traces());
        controller_->markViewedSaved();
        emit done(tr("Wrote %1 steps of %2 batch elements to %3")
                      .arg(controller_->traces().size())
                      .arg(controller_->traces().info().batch)
                      .arg(path));
    } catch (const std::exception& e) {
        emit failed(QString::fromStdString(e.what()));
    }
}

}  // namespace stepscope::ui
