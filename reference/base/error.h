// Errors carry what went wrong and where: the file (or config key), the field, expected vs found.
#pragma once

#include <stdexcept>
#include <string>

namespace g4ref {

// Every failure the library reports to a user is a g4ref::Error; the message is complete and
// self-contained ("FILE: problem (expected X, found Y)") so a command-line front end prints it as is.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// "where: what" — the common shape of messages naming a file or key.
[[noreturn]] inline void fail(const std::string& where, const std::string& what) {
  throw Error(where + ": " + what);
}

}  // namespace g4ref
