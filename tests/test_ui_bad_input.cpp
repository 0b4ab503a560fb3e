// Bad input: a refused form value, weights file, snapshot, session or input file leaves the run and plots intact.
#include <QTemporaryDir>
#include <QtTest>
#include <qcustomplot.h>

#include "main_window.h"
#include "model_panel.h"
#include "plots/output_plot.h"
#include "plots/plot_panel.h"
#include "session_io.h"
#include "stepscope/model.h"
#include "stepscope/safetensors.h"
#include "stepscope/snapshot.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

void write_bytes(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(bytes);
}

}  // namespace

class BadInputTest : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        // A good weights file of the small model, to damage in several ways.
        SessionSpec spec = small_spec("full");
        const auto model = Model::create_random(spec.config, 3);
        good_weights_ = dir_.filePath("good.safetensors");
        save_model(good_weights_.toStdString(), *model);
    }

    void init() {
        window_ = std::make_unique<MainWindow>(small_spec("full"));
        QVERIFY(wait_idle(*window_->controller()));
        window_->controller()->step(5);
        QVERIFY(wait_idle(*window_->controller()));
        before_ = window_->controller()->stateAt(5).state;
        model_ = window_->controller()->traces().info().model;
    }
    void cleanup() { window_.reset(); }

    void a_truncated_weights_file() {
        QFile good(good_weights_);
        QVERIFY(good.open(QIODevice::ReadOnly));
        const QString path = dir_.filePath("truncated.safetensors");
        write_bytes(path, good.readAll().left(300));
        refusedWith([&] { window_->loadWeights(path); }, "weights");
    }

    void a_weights_file_with_a_tensor_missing() {
        SafetensorsFile file = read_safetensors(good_weights_.toStdString());
        QVERIFY(file.tensors.size() > 1);
        file.tensors.erase(file.tensors.begin());
        const QString path = dir_.filePath("missing.safetensors");
        write_safetensors(path.toStdString(), file);
        refusedWith([&] { window_->loadWeights(path); }, "weights");
    }

    void garbage_for_weights() {
        const QString path = dir_.filePath("garbage.safetensors");
        static const char garbage[] = "\xff\xff\xff\xff\xff\xff\xff\x7f this is not a weights file";
        write_bytes(path, QByteArray(garbage, sizeof garbage - 1));
        refusedWith([&] { window_->loadWeights(path); }, "weights");
    }

    void an_input_file_of_the_wrong_width() {
        const QString path = dir_.filePath("narrow.csv");
        write_bytes(path, "a,b,c\n1,2,3\n4,5,6\n");
        SessionSpec spec = window_->controller()->spec();
        spec.input.kind = InputKind::File;
        spec.input.path = path;
        spec.steps = 0;
        refusedWith([&] { window_->controller()->open(spec); }, "input");
    }

    void a_safetensors_input_of_the_wrong_width() {
        SafetensorsFile file;
        file.tensors["x"] = Tensor::f32({4, 2, 5}, std::vector<float>(40, 0.5f));
        const QString path = dir_.filePath("x5.safetensors");
        write_safetensors(path.toStdString(), file);
        SessionSpec spec = window_->controller()->spec();
        spec.input.kind = InputKind::File;
        spec.input.path = path;
        spec.steps = 0;
        refusedWith([&] { window_->controller()->open(spec); }, "input");
    }

    void a_snapshot_of_another_model() {
        SessionSpec other = small_spec("linear");
        other.config.n_layers = 1;
        SessionController elsewhere;
        elsewhere.open(other);
        QVERIFY(wait_idle(elsewhere));
        elsewhere.step(2);
        QVERIFY(wait_idle(elsewhere));
        // Without its session metadata the snapshot can only continue the current model, which it does not fit.
        const Checkpoint c = elsewhere.stateAt(2);
        const QString path = dir_.filePath("other.safetensors");
        save_snapshot(path.toStdString(), *elsewhere.traces().info().model, c.state);
        refusedWith([&] { window_->controller()->openSnapshot(path); }, "snapshot");
    }

    void a_corrupt_snapshot() {
        const QString path = dir_.filePath("corrupt.safetensors");
        write_bytes(path, QByteArray(8, '\0') + "{}");
        refusedWith([&] { window_->controller()->openSnapshot(path); }, "snapshot");
    }

    void a_device_that_is_not_there() {
        if (cuda_status().available) QSKIP("a CUDA device is present: nothing to refuse");
        SessionSpec spec = window_->controller()->spec();
        spec.device = Device::Cuda;
        spec.steps = 0;
        refusedWith([&] { window_->controller()->open(spec); }, "device");
        QVERIFY2(refusal_.contains("CUDA"), qPrintable(refusal_));
    }

    void a_form_value_the_engine_rejects() {
        QVERIFY(window_->modelPanel()->setField("n_heads", "0"));
        QVERIFY(!window_->applyForms());
        QVERIFY(window_->errorText().contains("n_heads"));
        QVERIFY(!window_->modelPanel()->errorFor("n_heads").isEmpty());
        verifyUntouched();
    }

    void a_broken_session_file() {
        const QString path = dir_.filePath("broken.json");
        write_bytes(path, "{\"config\": {\"n_layers\": ");
        QSignalSpy failed(window_->sessionIO(), &SessionIO::failed);
        window_->sessionIO()->openSession(path);
        QCOMPARE(failed.size(), 1);
        QVERIFY(failed.first().at(0).toString().contains("JSON"));
        QVERIFY(!window_->errorText().isEmpty());
        verifyUntouched();
    }

private:
    template <typename Action>
    void refusedWith(Action action, const QString& context) {
        QSignalSpy failed(window_->controller(), &SessionController::failed);
        QSignalSpy opened(window_->controller(), &SessionController::runOpened);
        action();
        QVERIFY(wait_idle(*window_->controller()));
        QCOMPARE(failed.size(), 1);
        QCOMPARE(failed.first().at(0).toString(), context);
        QVERIFY(!failed.first().at(1).toString().isEmpty());
        QCOMPARE(opened.size(), 0);
        QVERIFY(!window_->errorText().isEmpty());
        // The banner goes with the next success (verifyUntouched steps on): what it said is kept here.
        refusal_ = window_->errorText();
        verifyUntouched();
        QVERIFY2(window_->errorText().isEmpty(), qPrintable(window_->errorText()));
    }

    // The model, the state, the records and the plots are those of before.
    void verifyUntouched() {
        SessionController* run = window_->controller();
        QVERIFY(run->traces().info().model == model_);
        QCOMPARE(run->traces().size(), 5);
        QVERIFY(run->stateAt(5).state == before_);
        window_->plotPanel()->refreshNow();
        for (QCPGraph* graph : window_->plotPanel()->outputs()->currentGraphs()) QCOMPARE(graph->dataCount(), 5);
        // And it still steps.
        run->step(1);
        QVERIFY(wait_idle(*run));
        QCOMPARE(run->lastStep(), qint64(6));
    }

    QTemporaryDir dir_;
    QString good_weights_;
    std::unique_ptr<MainWindow> window_;
    State before_;
    std::shared_ptr<const Model> model_;
    QString refusal_;  // the banner of the last refusal, before the step that clears it
};

QTEST_MAIN(BadInputTest)
#include "test_ui_bad_input.moc"
