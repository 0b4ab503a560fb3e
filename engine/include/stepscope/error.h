// The one exception type the engine throws: a message a user can act on.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace stepscope {

// Every engine failure (bad config, bad file, bad input shape) is an Error whose
// message names what is wrong; the engine never leaves an object half-changed
// when it throws.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Text from a file or a command line, made safe to put in a message: in single
// quotes, control characters escaped (\n, \x1b), cut to about `limit` bytes
// with "..." so that a damaged file cannot print a megabyte or move the cursor.
std::string quote_text(std::string_view untrusted, std::size_t limit = 80);

// A message built around untrusted text (a parser's own message may quote a
// token of any length): control characters escaped, cut to `limit` bytes.
std::string clean_text(std::string_view untrusted, std::size_t limit = 200);

}  // namespace stepscope
