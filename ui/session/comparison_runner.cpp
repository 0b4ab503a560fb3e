// The Compare-models evaluations: one queued job per evaluate(), stopped by the epoch between steps.
#include "session/comparison_runner.h"

#include <QFileInfo>

#include "stepscope/error.h"
#include "stepscope/token_model.h"

namespace stepscope::ui {

namespace {

// Thrown from the progress callback to leave an evaluation whose epoch has passed.
struct Cancelled {};

}  // namespace

ComparisonRunner::ComparisonRunner(QObject* parent) : QObject(parent), worker_(new QObject) {
    qRegisterMetaType<ComparedModel>();
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(this, &ComparisonRunner::finished, this, [this] { --pending_; });
    thread_.start();
}

ComparisonRunner::~ComparisonRunner() {
    cancel();
    thread_.quit();
    thread_.wait();
}

void ComparisonRunner::evaluate(const QStringList& paths) {
    cancel();
    const uint64_t epoch = epoch_.load();
    ++pending_;
    QMetaObject::invokeMethod(
        worker_,
        [this, paths, epoch] {
            bool cancelled = false;
            for (int i = 0; i < paths.size() && !cancelled; ++i) {
                const QString& path = paths[i];
                try {
                    const auto model = TokenModel::load(path.toStdString());
                    const ComparedModel curve =
                        compare_model(*model, QFileInfo(path).baseName().toStdString(),
                                      [this, i, count = int(paths.size()), epoch](int64_t done, int64_t total) {
                                          if (epoch_.load() != epoch) throw Cancelled{};
                                          emit progress(i, count, done, total);
                                      });
                    emit evaluated(path, curve);
                } catch (const Cancelled&) {
                    cancelled = true;
                } catch (const std::bad_alloc&) {
                    emit failed(path, QStringLiteral("out of memory"));
                } catch (const std::exception& e) {
                    emit failed(path, QString::fromStdString(e.what()));
                }
                cancelled = cancelled || epoch_.load() != epoch;
            }
            emit finished(cancelled);
        },
        Qt::QueuedConnection);
}

}  // namespace stepscope::ui
