// The OpenAI-compatible server's request parsers (eval/server/openai_schema.h): bytes as a request body, through
// the chat and the completions parser, then a parsed chat request rendered through the chat template. What the
// server answers with a 4xx is fine: an ApiError below 500 or a g4ref::Error (the server turns it into a 400).
// Anything else is a finding: an ApiError of 500 or more, or a bare library exception (the server would answer
// hostile input with a 500 server error).
#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "prompt/request.h"
#include "server/openai_schema.h"

namespace {

template <class F>
void expect_client_error(F&& f) {
  g4ref::fuzz::expect_clean([&] {
    try {
      f();
    } catch (const g4ref::ApiError& e) {
      if (e.status >= 400 && e.status < 500) return;
      std::fprintf(stderr, "finding: the parser answered %d (not a client error): %s\n", e.status, e.what());
      std::abort();
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::ordered_json body = nlohmann::ordered_json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return 0;  // the server answers 400 before any parser runs
  expect_client_error([&] {
    const g4ref::ChatRequest r = g4ref::parse_chat_request(body, 16);
    (void)g4ref::render(r.conversation);
  });
  expect_client_error([&] { (void)g4ref::parse_completion_request(body, 16); });
  return 0;
}
