// The one exception type the engine throws: a message a user can act on.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <string_view>

namespace stepscope {

// Every engine failure (bad config, bad file, bad input shape) is an Error whose
// message names what is wrong; the engine never leaves an object half-changed
// when it throws.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
    // An error about one builder parameter, named by its key ("n_heads"), so a form can show it beside the field.
    Error(const std::string& message, std::string parameter)
        : std::runtime_error(message), parameter_(std::move(parameter)) {}

    // The builder parameter at fault, or "" when the error is not about one.
    const std::string& parameter() const { return parameter_; }

private:
    std::string parameter_;
};

// Text from a file or a command line, made safe to put in a message: in single
// quotes, control characters escaped (\n, \x1b), cut to about `limit` bytes
// with "..." so that a damaged file cannot print a megabyte or move the cursor.
std::string quote_text(std::string_view untrusted, std::size_t limit = 80);

// A message built around untrusted text (a parser's own message may quote a
// token of any length): control characters escaped, cut to `limit` bytes.
std::string clean_text(std::string_view untrusted, std::size_t limit = 200);

}  // namespace stepscope
