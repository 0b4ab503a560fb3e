// Draws the Compare-models figure as SVG text: two log-x panels, a shared legend, one polyline per model.
#include "compare_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace stepscope::cli {

namespace {

// matplotlib's tab10, so the figure reads like the plots it will be put beside.
const char* const kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

constexpr double kPanelWidth = 420, kPanelHeight = 300, kLeft = 70, kTop = 40, kGap = 90, kLegendHeight = 22;

std::string format(const char* pattern, double a, double b = 0, double c = 0, double d = 0) {
    char text[256];
    std::snprintf(text, sizeof text, pattern, a, b, c, d);
    return text;
}

std::string escaped(const std::string& text) {
    std::string out;
    for (const char c : text) {
        if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else if (c == '&') out += "&amp;";
        else if (c == '"') out += "&quot;";
        else out += c;
    }
    return out;
}

std::string byte_label(double bytes) {
    if (bytes >= 1e6) return format("%g MB", bytes / 1e6);
    if (bytes >= 1e3) return format("%g KB", bytes / 1e3);
    return format("%g B", bytes);
}

// One panel: a log axis of `base` over [low, high] (whole powers), y over [y_low, y_high].
struct Panel {
    double x0 = 0;  // left edge of the plotting area
    double base = 2, low = 1, high = 2, y_low = 0, y_high = 1;

    double x(double value) const {
        return x0 + kPanelWidth * (std::log(value) - std::log(low)) / (std::log(high) - std::log(low));
    }
    double y(double value) const { return kTop + kPanelHeight * (y_high - value) / (y_high - y_low); }
};

Panel make_panel(double x0, double base, double smallest, double largest, double y_low, double y_high) {
    Panel p;
    p.x0 = x0;
    p.base = base;
    p.low = std::pow(base, std::floor(std::log(smallest) / std::log(base) + 1e-9));
    p.high = std::pow(base, std::ceil(std::log(largest) / std::log(base) - 1e-9));
    if (p.high <= p.low) p.high = p.low * base;
    p.y_low = y_low;
    p.y_high = y_high;
    return p;
}

std::string axes(const Panel& p, const std::string& x_title, const std::string& y_title, bool bytes) {
    std::string svg = format("<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#333\"/>\n",
                             p.x0, kTop, kPanelWidth, kPanelHeight);
    // Powers of the base, and on a decade axis 2x and 5x between them.
    std::vector<double> ticks;
    for (double power = p.low; power <= p.high * 1.0001; power *= p.base)
        for (const double factor : p.base == 10 ? std::vector<double>{1, 2, 5} : std::vector<double>{1})
            if (power * factor <= p.high * 1.0001) ticks.push_back(power * factor);
    for (const double tick : ticks) {
        const double x = p.x(tick);
        svg += format("<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ddd\"/>\n", x, kTop, x,
                      kTop + kPanelHeight);
        svg += format("<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">", x, kTop + kPanelHeight + 16) +
               escaped(bytes ? byte_label(tick) : format("%g", tick)) + "</text>\n";
    }
    const double step = (p.y_high - p.y_low) / 5;
    for (int i = 0; i <= 5; ++i) {
        const double value = p.y_low + i * step, y = p.y(value);
        svg +=
            format("<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ddd\"/>\n", p.x0, y, p.x0 + kPanelWidth, y);
        svg += format("<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.2f</text>\n", p.x0 - 6, y + 4, value);
    }
    svg += format("<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">", p.x0 + kPanelWidth / 2, kTop + kPanelHeight + 36) +
           escaped(x_title) + "</text>\n";
    svg += format("<text transform=\"translate(%g,%g) rotate(-90)\" text-anchor=\"middle\">", p.x0 - 48,
                  kTop + kPanelHeight / 2) +
           escaped(y_title) + "</text>\n";
    return svg;
}

std::string curve(const Panel& p, const ComparedModel& model, bool bytes, const char* colour) {
    std::string points, marks;
    for (const ComparedPoint& point : model.points) {
        const double x = p.x(bytes ? point.state_bytes : point.position), y = p.y(point.value);
        points += format("%.1f,%.1f ", x, y);
        marks +=
            format("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"", x, y) + colour + "\"><title>" +
            escaped(model.label) + ": " +
            format(bytes ? "%g bytes, %.3f" : "%g, %.3f", bytes ? point.state_bytes : point.position, point.value) +
            "</title></circle>\n";
    }
    return std::string("<polyline fill=\"none\" stroke-width=\"2\" stroke=\"") + colour + "\" points=\"" + points +
           "\"/>\n" + marks;
}

}  // namespace

std::string comparison_svg(const std::vector<ComparedModel>& models, const std::string& metric,
                           const std::string& position_name) {
    double small_x = std::numeric_limits<double>::infinity(), large_x = 0;
    double small_b = std::numeric_limits<double>::infinity(), large_b = 0;
    double small_y = std::numeric_limits<double>::infinity(), large_y = -small_y;
    for (const ComparedModel& model : models)
        for (const ComparedPoint& point : model.points) {
            small_x = std::min(small_x, point.position), large_x = std::max(large_x, point.position);
            small_b = std::min(small_b, point.state_bytes), large_b = std::max(large_b, point.state_bytes);
            small_y = std::min(small_y, point.value), large_y = std::max(large_y, point.value);
        }
    const bool accuracy = metric == "accuracy";
    const double y_low = accuracy ? 0 : std::floor(small_y * 2) / 2, y_high = accuracy ? 1 : std::ceil(large_y * 2) / 2;
    const Panel left = make_panel(kLeft, 2, std::max(small_x, 1.0), std::max(large_x, 1.0), y_low,
                                  y_high > y_low ? y_high : y_low + 1);
    const Panel right = make_panel(kLeft + kPanelWidth + kGap, 10, std::max(small_b, 1.0), std::max(large_b, 1.0),
                                   left.y_low, left.y_high);
    const double width = right.x0 + kPanelWidth + 40;
    const double legend_top = kTop + kPanelHeight + 56;
    const double height = legend_top + kLegendHeight * double((models.size() + 2) / 3) + 10;
    const std::string y_title = accuracy ? "accuracy" : metric == "bits_per_character" ? "bits per character" : metric;

    std::string svg = format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
        "viewBox=\"0 0 %g %g\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"12\">\n",
        width, height, width, height);
    svg += format("<rect width=\"%g\" height=\"%g\" fill=\"white\"/>\n", width, height);
    svg += format("<text x=\"%g\" y=\"22\" font-size=\"14\">", kLeft) + escaped(y_title + " against " + position_name) +
           "</text>\n";
    svg += format("<text x=\"%g\" y=\"22\" font-size=\"14\">", right.x0) +
           escaped(y_title + " against state bytes per sequence") + "</text>\n";
    svg +=
        axes(left, position_name, y_title, false) + axes(right, "attention state per sequence (bytes)", y_title, true);
    for (size_t i = 0; i < models.size(); ++i) {
        const char* colour = kColours[i % (sizeof kColours / sizeof *kColours)];
        svg += "<g>\n" + curve(left, models[i], false, colour) + curve(right, models[i], true, colour) + "</g>\n";
        const double x = kLeft + double(i % 3) * 300, y = legend_top + kLegendHeight * double(i / 3);
        svg += format("<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke-width=\"3\" stroke=\"", x, y, x + 24, y) +
               colour + "\"/>\n";
        svg += format("<text x=\"%g\" y=\"%g\">", x + 30, y + 4) + escaped(models[i].label) + "</text>\n";
    }
    return svg + "</svg>\n";
}

}  // namespace stepscope::cli
