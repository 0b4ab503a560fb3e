// The Compare-models view: one curve per shipped recall model whose points are what `stepscope eval --compare`
// prints, evaluated off the window's thread; clicking a point opens that model on an instance of that K.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QtTest>

#include <cmath>
#include <limits>

#include "cli_test_support.h"
#include "main_window.h"
#include "plots/compare_view.h"
#include "plots/plot_panel.h"
#include "plots/token_view.h"
#include "qcustomplot.h"
#include "session/demo_models.h"
#include "stepscope/token_tasks.h"
#include "ui_test_support.h"

using namespace stepscope;
using namespace stepscope::ui;
using namespace stepscope::ui::testing;

namespace {

struct Pick {
    int model = -1, point = -1;
    bool bytes = false;
};

// The point of `view` (in the panel `bytes` names) farthest from every other point of either panel's
// curves in pixels, so a click on it can only mean it.
Pick loneliest_point(const CompareView& view, bool bytes) {
    Pick best;
    double best_distance = -1;
    const auto& curves = view.curves();
    for (int m = 0; m < int(curves.size()); ++m)
        for (int p = 0; p < int(curves[size_t(m)].points.size()); ++p) {
            const QPoint at = view.pointPosition(m, p, bytes);
            double nearest = std::numeric_limits<double>::infinity();
            for (int n = 0; n < int(curves.size()); ++n)
                for (int q = 0; q < int(curves[size_t(n)].points.size()); ++q)
                    if (n != m || q != p)
                        nearest = std::min(nearest, QLineF(at, view.pointPosition(n, q, bytes)).length());
            if (nearest > best_distance) best_distance = nearest, best = {m, p, bytes};
        }
    return best;
}

}  // namespace

class CompareTest : public QObject {
    Q_OBJECT

private slots:
    void view_draws_what_eval_compare_prints() {
        MainWindow window(small_spec());
        window.resize(1600, 1000);
        window.show();
        QVERIFY(wait_idle(*window.controller()));
        CompareView* view = window.compareView();
        view->resize(1100, 600);
        QStringList recall;
        for (const DemoModel& demo : demo_models())
            if (demo.name.startsWith("recall_")) recall << demo.path;
        QCOMPARE(recall.size(), 5);
        QCOMPARE(view->models(), recall);
        QVERIFY(view->isWindow() && !view->isVisible());
        QVERIFY(view->curves().empty());  // nothing is evaluated before the view is shown
        window.showCompareView();
        // The evaluation runs off the window's thread: the event loop turns while it goes.
        QTRY_VERIFY_WITH_TIMEOUT(view->busy(), 5000);
        QTRY_VERIFY_WITH_TIMEOUT(view->settled(), 120000);
        QCOMPARE(int(view->curves().size()), 5);
        QCOMPARE(view->curvePaths(), recall);
        QCOMPARE(view->plot()->plottableCount(), 10);  // each model in both panels
        // One legend entry per model, its left-panel curve's.
        for (int m = 0; m < 5; ++m) {
            QVERIFY(view->plot()->legend->hasItemWithPlottable(view->curve(m, false)));
            QVERIFY(!view->plot()->legend->hasItemWithPlottable(view->curve(m, true)));
        }

        QStringList arguments{"eval", "--compare"};
        arguments << recall << "--json";
        const stepscope::testing::CliResult result = stepscope::testing::run_stepscope(arguments);
        QVERIFY2(result.exit_code == 0, qPrintable(result.stderr_text));
        const QJsonArray models = QJsonDocument::fromJson(result.stdout_text.trimmed().split('\n').last().toUtf8())
                                      .object()["models"]
                                      .toArray();
        QCOMPARE(models.size(), 5);
        for (int m = 0; m < 5; ++m) {
            const ComparedModel& curve = view->curves()[size_t(m)];
            const QJsonObject groups = models[m].toObject()["groups"].toObject();
            QCOMPARE(QString::fromStdString(curve.attention_type), models[m].toObject()["attention_type"].toString());
            QCOMPARE(int(curve.points.size()), groups.size());
            QCPCurve* pairs = view->curve(m, false);
            QCPCurve* bytes = view->curve(m, true);
            QCOMPARE(pairs->dataCount(), groups.size());
            QCOMPARE(pairs->name(), QString::fromStdString(curve.label));
            for (int p = 0; p < int(curve.points.size()); ++p) {
                const ComparedPoint& point = curve.points[size_t(p)];
                const QJsonObject group = groups[QString::fromStdString(point.group)].toObject();
                // What the view draws is exactly what eval printed (JSON keeps a double's every digit).
                QCOMPARE(pairs->data()->at(p)->key, group["position"].toDouble());
                QCOMPARE(pairs->data()->at(p)->value, group["value"].toDouble());
                QCOMPARE(bytes->data()->at(p)->key, group["state_bytes"].toDouble());
                QCOMPARE(bytes->data()->at(p)->value, group["value"].toDouble());
                QCOMPARE(point.position, double(std::stoi(point.group.substr(2))));
            }
        }
    }

    void clicking_a_point_opens_that_model_on_an_instance_of_that_k() {
        MainWindow window(small_spec());
        window.setDiscardQuestion([](const QString&) { return QMessageBox::Discard; });
        window.resize(1600, 1000);
        window.show();
        QVERIFY(wait_idle(*window.controller()));
        CompareView* view = window.compareView();
        window.showCompareView();
        QTRY_VERIFY_WITH_TIMEOUT(view->settled(), 120000);
        QCOMPARE(int(view->curves().size()), 5);
        view->plot()->replot();
        for (const bool bytes : {false, true}) {
            const Pick pick = loneliest_point(*view, bytes);
            QVERIFY(pick.model >= 0);
            const ComparedPoint& point = view->curves()[size_t(pick.model)].points[size_t(pick.point)];
            const int pairs = int(point.position);
            const QString path = view->curvePaths()[pick.model];
            // Hovering names the point; off the points nothing is named.
            const QString hover = view->pointText(view->pointPosition(pick.model, pick.point, bytes));
            QVERIFY2(hover.contains(QString::fromStdString(view->curves()[size_t(pick.model)].label)) &&
                         hover.contains(QString::fromStdString(point.group) + ","),
                     qPrintable(hover));
            QVERIFY(view->pointText(QPoint(2, 2)).isEmpty());
            QSignalSpy requested(view, &CompareView::openRequested);
            QTest::mouseClick(view->plot(), Qt::LeftButton, {}, view->pointPosition(pick.model, pick.point, bytes));
            QCOMPARE(requested.size(), 1);
            QCOMPARE(requested[0][0].toString(), path);
            QCOMPARE(requested[0][1].toInt(), pairs);
            QTRY_VERIFY_WITH_TIMEOUT(window.controller()->spec().weights_path == path, 30000);
            QVERIFY(wait_idle(*window.controller()));
            const SessionSpec spec = window.controller()->spec();
            QCOMPARE(spec.input.kind, InputKind::Tokens);
            QCOMPARE(spec.input.pairs, pairs);
            // The whole instance was stepped: its K pairs, then the task's queries.
            const auto model = window.controller()->traces().info().tokens;
            QVERIFY(model);
            QCOMPARE(window.controller()->lastStep(), int64_t(recall_instance_steps(model->metadata(), pairs)));
            // The run read K stored pairs (unscored), then the queries (scored), as the instance lays them out.
            int stored = 0, queries = 0;
            for (const StepRecord& record : window.controller()->traces().records()) {
                QVERIFY(record.token != nullptr);
                if (record.token->target < 0) ++stored;
                else ++queries;
                QCOMPARE(int(record.token->input.size()), 2);
            }
            QCOMPARE(stored, pairs);
            QCOMPARE(stored + queries, recall_instance_steps(model->metadata(), pairs));
            QCOMPARE(window.plotPanel()->tabs()->currentWidget(), static_cast<QWidget*>(window.plotPanel()->tokens()));
            QVERIFY(view->isVisible());  // the comparison stays open beside the run it opened
            view->plot()->replot();
        }
    }
};

QTEST_MAIN(CompareTest)
#include "test_ui_compare.moc"
