// Step axes of a token model's run labelled with the tokens fed at each step ("33\nk118+?").
#pragma once

#include <qcustomplot.h>

#include <functional>

#include "session/trace_store.h"

namespace stepscope::ui {

// A step's tokens as shown on screen: joined with '+', control characters as their escapes, a lone
// space as '␣'.
QString shown_tokens(const TokenModel& model, const TokenStep& step);
// The tokens fed at `step` of the run `store` shows (shown_tokens), or "" when the run has no token
// input or no record of that step.
QString step_token_text(const TraceStore* store, int64_t step);

// A ticker of step axes (Base: QCPAxisTicker or QCPAxisTickerFixed) whose whole-step ticks name
// the token fed at that step after the step number, joined by `separator`; the number alone for a
// run without tokens, so vector models' axes read as before.
template <class Base>
class TokenStepTicker : public Base {
public:
    TokenStepTicker(std::function<const TraceStore*()> store, QString separator)
        : store_(std::move(store)), separator_(std::move(separator)) {}

protected:
    QString getTickLabel(double tick, const QLocale& locale, QChar format, int precision) override {
        const QString number = Base::getTickLabel(tick, locale, format, precision);
        if (tick != std::floor(tick)) return number;
        const QString token = step_token_text(store_(), int64_t(tick));
        return token.isEmpty() ? number : number + separator_ + token;
    }

private:
    std::function<const TraceStore*()> store_;
    QString separator_;
};

}  // namespace stepscope::ui
