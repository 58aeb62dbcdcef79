// config.json: parse_config (every key, type and range rule of model/config.cpp) and validate_config.
#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "model/config.h"

// In memory (parse_config after the JSON parse load_config does), so that the fuzzer is not bound by file I/O;
// load_config's file handling is the same as every other JSON loader's.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  g4ref::fuzz::expect_clean([&] {
    const g4ref::ModelConfig c = g4ref::parse_config(j, "config.json");
    g4ref::validate_config(c);
    (void)c.hash();
    (void)g4ref::config_to_json(c).dump();
  });
  return 0;
}
