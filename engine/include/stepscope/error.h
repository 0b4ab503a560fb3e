// The one exception type the engine throws: a message a user can act on.
#pragma once

#include <stdexcept>
#include <string>

namespace stepscope {

// Every engine failure (bad config, bad file, bad input shape) is an Error whose
// message names what is wrong; the engine never leaves an object half-changed
// when it throws.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace stepscope
