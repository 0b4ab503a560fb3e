// Views on demand: what a view shows but was not observed while stepping, computed again from the run's history.
//
//   ViewRequest want;                       // layer 1's implicit map of element 2 over steps 1..48
//   want.element = 2; want.layer = 1; want.first = 1; want.last = 48; want.attention = true;
//   std::vector<BatchRecord> got = recompute_views(session, want, progress, cancelled);
//
// The history (run_history.h) steps unobserved from the checkpoint nearest before `first` to the step before
// it, then observed over first..last, exactly as the run stepped live: the values equal those a live
// observation of the same layer and element recorded. The SessionWorker runs it in its thread.
#pragma once

#include <QMetaType>
#include <QString>

#include <cstdint>
#include <functional>
#include <vector>

#include "session/run_history.h"
#include "session/step_record.h"

namespace stepscope::ui {

// One view's wish: the observations of one layer of one batch element over a range of steps.
struct ViewRequest {
    int element = 0;
    int layer = -1;  // -1: no layer looked inside (a read-back only)
    AttentionRole role = AttentionRole::Self;
    int64_t first = 0, last = 0;  // record steps (1 for the first step taken), first <= last
    bool attention = false;       // attention maps (and the capacity that comes with them)
    bool spectrum = false;        // singular values and effective rank of S
    bool read_back = false;       // recall: the stored pairs read back through the state after each step
    // Short reason shown while it is computed: "implicit weights", "spectrum of S", ...
    QString what;
    int run = -1;  // the run it is computed for: -1 the viewed run, else a run shown beside it (a compared map)

    bool empty() const { return last < first || (layer < 0 && !read_back); }
    int64_t steps() const { return last - first + 1; }
    // "implicit weights of layer 1 (self), element 2, steps 1 to 48"
    QString describe() const;
    bool operator==(const ViewRequest& o) const {
        return element == o.element && layer == o.layer && role == o.role && first == o.first && last == o.last &&
               attention == o.attention && spectrum == o.spectrum && read_back == o.read_back && run == o.run;
    }
    bool operator!=(const ViewRequest& o) const { return !(*this == o); }
};

// Called with the steps done of `total` (unobserved replay and observed steps together); returns nothing.
using RecomputeProgress = std::function<void(int64_t done, int64_t total)>;

// One record per step first..last holding what `request` asks of its layer (attention rows and capacity of
// that layer and role, the read-back) for batch element request.element (BatchRecord::observed), nothing else.
// Throws RunCancelled when `cancelled` turns true, stepscope::Error when the history cannot give the steps.
std::vector<BatchRecord> recompute_views(const RunHistory& history, const ViewRequest& request,
                                         const RecomputeProgress& progress, const std::function<bool()>& cancelled);

}  // namespace stepscope::ui

Q_DECLARE_METATYPE(stepscope::ui::ViewRequest)
