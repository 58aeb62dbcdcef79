// g4ref serve: the OpenAI-compatible server (eval/server) over the reference backend.
#include <csignal>
#include <iostream>

#include "backends/reference_backend.h"
#include "base/error.h"
#include "cli/common.h"
#include "server/server.h"

namespace g4ref {

namespace {

struct ServeArgs {
  std::string model, mmproj, tokenizer;
  ServerOptions server;
  ForwardArgs forward;
  bool json = false;
};

Server* running = nullptr;

void on_signal(int) {
  if (running) running->stop();
}

void serve(ServeArgs& a) {
  ReferenceBackendOptions o;
  o.model = a.model;
  o.mmproj = a.mmproj;
  o.tokenizer = a.tokenizer;
  o.run = a.forward.run_options();
  ReferenceBackend backend(o);
  Server server(backend, a.server);
  if (!server.bind()) fail(a.server.host + ":" + std::to_string(a.server.port), "cannot listen there (in use, or not an address of this machine)");
  running = &server;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const std::string url = "http://" + a.server.host + ":" + std::to_string(server.bound_port());
  if (a.json) {
    std::cout << nlohmann::json{{"url", url}, {"port", server.bound_port()}, {"model", a.server.model_name},
                                {"backend", backend.describe()}}
                     .dump()
              << std::endl;
  } else {
    std::cout << "g4ref serve: " << backend.name() << " on " << url << " (OpenAI-compatible: /v1/chat/completions, "
              << "/v1/completions, /v1/models, /tokenize, /detokenize, /apply-template, /health)" << std::endl;
  }
  server.serve();
  running = nullptr;
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  a->server.model_name = "gemma-4-12b-unified";
  CLI::App* cmd = app.add_subcommand("serve", "An OpenAI-compatible HTTP server over the reference");
  cmd->add_option("--model", a->model, "checkpoint directory or text GGUF")->required();
  cmd->add_option("--mmproj", a->mmproj, "mmproj GGUF with the vision and audio weights")->check(CLI::ExistingFile);
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json or tokenizer.model (default: the model's)");
  cmd->add_option("--host", a->server.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", a->server.port, "port (0: any free one, printed at start)")->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--served-model-name", a->server.model_name, "the model id clients name")->capture_default_str();
  cmd->add_option("--api-key", a->server.api_key, "require 'Authorization: Bearer KEY' (except on /health)");
  cmd->add_option("--max-queue", a->server.max_queue, "requests that may wait for the model (then 503)")
      ->check(CLI::Range(0, 100000))->capture_default_str();
  cmd->add_option("--max-body-bytes", a->server.max_body_bytes, "largest request body (then 413)")
      ->check(CLI::Range(static_cast<size_t>(1024), static_cast<size_t>(1) << 34))->capture_default_str();
  cmd->add_option("--image-tokens", a->server.media.image_tokens, "soft tokens per image: 70, 140, 280, 560 or 1120 (default: the config's)")
      ->check(CLI::IsMember({0, 70, 140, 280, 560, 1120}));
  cmd->add_option("--max-tokens", a->server.default_max_tokens, "tokens generated when a request sets no limit")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  cmd->add_flag("--json", a->json, "print the listening address as one JSON line");
  a->forward.add_to(*cmd, false);
  cmd->callback([a] { serve(*a); });
}

}  // namespace g4ref
