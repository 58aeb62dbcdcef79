// g4ref serve: an OpenAI-compatible HTTP server over one Backend (the reference, by default), so any client or
// harness that speaks the protocol can query the ground truth. One model; requests run one at a time in arrival
// order, with at most max_queue waiting (then 503); a streaming client that disconnects cancels its generation.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "backends/backend.h"
#include "prompt/request.h"

namespace httplib {
class Server;
}

namespace g4ref {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;            // 0: any free port (bound_port() tells which)
  std::string model_name;     // what /v1/models lists and requests may name
  std::string api_key;        // "": no key needed
  int max_queue = 16;         // requests waiting for the model beyond the one running
  size_t max_body_bytes = 64u << 20;
  int default_max_tokens = 512;
  int threads = 8;            // HTTP worker threads (requests beyond the model's one wait in the queue)
  MediaOptions media;         // how image, audio and video parts are prepared (image budget: 0 = the config's)
};

class Server {
 public:
  Server(Backend& backend, ServerOptions options);
  ~Server();
  // Binds, then serves until stop(); returns false when the address cannot be bound.
  bool bind();
  void serve();
  void stop();
  int bound_port() const { return port_; }

 private:
  void routes();
  Backend& backend_;
  ServerOptions options_;
  std::unique_ptr<httplib::Server> http_;
  class Turn;
  friend class Turn;
  uint64_t requests_waiting() {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    return next_ticket_ - serving_;
  }
  // One request on the model at a time, in arrival order: tickets and the one being served.
  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  uint64_t next_ticket_ = 0, serving_ = 0;
  std::atomic<uint64_t> next_id_{0};
  std::atomic<uint64_t> cancelled_{0};  // generations stopped because their client went away
  int port_ = 0;
};

}  // namespace g4ref
