// Makes a Backend from plain settings, so commands and the harness name a backend without knowing its class.
// SETTINGS: {"kind": "reference" | "llamacpp" | "endpoint", "model": DIR or FILE, "url": …, "precision": …,
// "threads": …, …}; an unknown kind or a missing field is an error naming the field.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "backends/backend.h"

namespace g4ref {

std::unique_ptr<Backend> make_backend(const nlohmann::json& settings);

}  // namespace g4ref
