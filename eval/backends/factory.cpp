#include "backends/factory.h"

#include "base/error.h"

namespace g4ref {

// Provisional: the backends register here as they land.
std::unique_ptr<Backend> make_backend(const nlohmann::json& settings) {
  const std::string kind = settings.value("kind", "");
  fail("--backend", "backend \"" + kind + "\" is not available in this build (known kinds: reference, llamacpp, endpoint)");
}

}  // namespace g4ref
