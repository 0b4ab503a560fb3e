// Parsing of --observe VIEW[,VIEW] and --ablate LAYER:HEAD.
#include "view_options.h"

#include <sstream>

namespace stepscope::cli {

ObservationOptions observe_option(const Arguments& args) {
    ObservationOptions options;
    if (!args.has("observe")) return options;
    std::istringstream list(args.text("observe"));
    std::string view;
    while (std::getline(list, view, ',')) {
        if (view == "attention") options.attention = true;
        else if (view == "spectrum") options.spectrum = true;
        else throw UsageError{"option --observe: unknown view '" + view + "' (known: attention, spectrum)"};
    }
    if (!options.attention && !options.spectrum)
        throw UsageError{"option --observe needs attention, spectrum or both, got '" + args.text("observe") + "'"};
    return options;
}

Ablation ablate_option(const Arguments& args) {
    Ablation ablation;
    for (const std::string& value : args.texts("ablate")) {
        std::istringstream in(value);
        HeadAblation head;
        char colon = 0;
        if (!(in >> head.layer >> colon >> head.head) || colon != ':' || !in.eof() ||
            value.find_first_not_of("0123456789:") != std::string::npos)
            throw UsageError{"option --ablate must be LAYER:HEAD with two non-negative integers, got '" + value + "'"};
        ablation.heads.push_back(head);
    }
    return ablation;
}

}  // namespace stepscope::cli
