// The token fed at a step, looked up in a run's records for axis labels.
#include "token_ticker.h"

namespace stepscope::ui {

QString step_token_text(const TraceStore* store, int64_t step) {
    if (!store || !store->info().tokens) return {};
    const StepRecord* record = store->at_step(step);
    if (!record || !record->token) return {};
    QString text = QString::fromStdString(store->info().tokens->step_text(record->token->input));
    text.replace('\n', QStringLiteral("\\n")).replace('\t', QStringLiteral("\\t")).replace('\f', QStringLiteral("\\f"));
    return text == QLatin1String(" ") ? QStringLiteral("␣") : text;
}

}  // namespace stepscope::ui
