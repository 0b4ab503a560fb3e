// Tokens as shown on screen, and the token fed at a step looked up in a run's records for axis labels.
#include "plots/token_ticker.h"

namespace stepscope::ui {

QString shown_tokens(const TokenModel& model, const TokenStep& step) {
    QString text = QString::fromStdString(model.step_text(step));
    text.replace('\n', QStringLiteral("\\n")).replace('\t', QStringLiteral("\\t")).replace('\f', QStringLiteral("\\f"));
    return text == QLatin1String(" ") ? QStringLiteral("␣") : text;
}

QString step_token_text(const TraceStore* store, int64_t step) {
    if (!store || !store->info().tokens) return {};
    const std::optional<StepRecord> record = store->at_step(step);
    if (!record || !record->token) return {};
    return shown_tokens(*store->info().tokens, record->token->input);
}

}  // namespace stepscope::ui
