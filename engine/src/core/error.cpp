// Untrusted text in messages: control characters escaped, length bounded.
#include "stepscope/error.h"

#include <cstdio>

namespace stepscope {

namespace {

std::string escaped(unsigned char c) {
    switch (c) {
        case '\n': return "\\n";
        case '\r': return "\\r";
        case '\t': return "\\t";
        default: {
            char code[5];
            std::snprintf(code, sizeof code, "\\x%02x", c);
            return code;
        }
    }
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

// A cut never splits a UTF-8 sequence: it backs off over continuation bytes.
std::size_t cut_at(std::string_view text, std::size_t limit) {
    if (text.size() <= limit) return text.size();
    std::size_t end = limit;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    return end;
}

}  // namespace

std::string clean_text(std::string_view untrusted, std::size_t limit) {
    const std::size_t end = cut_at(untrusted, limit);
    std::string out;
    out.reserve(end + 3);
    for (std::size_t i = 0; i < end; ++i) {
        const auto c = static_cast<unsigned char>(untrusted[i]);
        if (is_control(c)) out += escaped(c);
        else out += char(c);
    }
    if (end < untrusted.size()) out += "...";
    return out;
}

std::string quote_text(std::string_view untrusted, std::size_t limit) {
    return "'" + clean_text(untrusted, limit) + "'";
}

}  // namespace stepscope
