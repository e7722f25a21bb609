// tessera/error.hpp — the one exception type of the library: what went wrong and which argument caused it.
#pragma once

#include <stdexcept>
#include <string>

namespace tessera {

enum class ErrorKind {
  value,   // an argument has a bad value (Python: ValueError)
  type,    // an argument has a bad type (Python: TypeError)
  memory,  // the result would be too large to allocate (Python: MemoryError)
};

class Error : public std::invalid_argument {
 public:
  Error(ErrorKind kind, std::string argument, const std::string& message)
      : std::invalid_argument(argument.empty() ? message : argument + ": " + message),
        kind_(kind),
        argument_(std::move(argument)) {}

  ErrorKind kind() const { return kind_; }
  // Name of the offending argument as the user spelled it ("size", "scale_factor", ...), or "".
  const std::string& argument() const { return argument_; }

 private:
  ErrorKind kind_;
  std::string argument_;
};

[[noreturn]] inline void fail(const std::string& argument, const std::string& message) {
  throw Error(ErrorKind::value, argument, message);
}

}  // namespace tessera
