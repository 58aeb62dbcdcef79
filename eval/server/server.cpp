#include "server/server.h"

#include <httplib.h>

#include <chrono>

#include "base/error.h"
#include "model/token_types.h"
#include "server/openai_schema.h"

namespace g4ref {

namespace {

using ojson = nlohmann::ordered_json;

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

void send_json(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(dump(j), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) { send_json(res, e.status, error_json(e)); }

ojson parse_body(const httplib::Request& req) {
  const ojson j = ojson::parse(req.body, nullptr, false);
  if (j.is_discarded()) throw ApiError(400, "the request body is not valid JSON");
  return j;
}

}  // namespace

// Holds the model for one request: takes a ticket and waits until it is served (first come, first served), or is
// refused at once when max_queue requests already wait. A response sent as a chunked body outlives its handler (the
// content provider is destroyed whenever the HTTP library is done with it), so the provider releases the model
// itself, before its last write: a client that has its answer may send the next request at once and find the model
// free.
class Server::Turn {
 public:
  Turn(Server& s) : s_(s) {
    std::unique_lock<std::mutex> lock(s_.queue_mutex_);
    if (s_.next_ticket_ - s_.serving_ > static_cast<uint64_t>(s_.options_.max_queue)) {
      throw ApiError(503, "the server is busy: " + std::to_string(s_.options_.max_queue) + " requests are already waiting",
                     "", "server_error", "queue_full");
    }
    ticket_ = s_.next_ticket_++;
    s_.queue_cv_.wait(lock, [&] { return s_.serving_ == ticket_; });
  }
  ~Turn() { release(); }
  void release() {
    if (released_) return;
    released_ = true;
    std::lock_guard<std::mutex> lock(s_.queue_mutex_);
    ++s_.serving_;
    s_.queue_cv_.notify_all();
  }

 private:
  Server& s_;
  uint64_t ticket_ = 0;
  bool released_ = false;
};

namespace {

std::string finish_reason(const GenerateResult& g, bool tool_calls) {
  if (tool_calls) return "tool_calls";
  return g.finish_reason == "length" ? "length" : "stop";
}

}  // namespace

Server::Server(Backend& backend, ServerOptions options)
    : backend_(backend), options_(std::move(options)), http_(std::make_unique<httplib::Server>()) {
  if (options_.model_name.empty()) options_.model_name = "gemma-4-12b-unified";
  routes();
}

Server::~Server() = default;

bool Server::bind() {
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
    return port_ > 0;
  }
  port_ = options_.port;
  return http_->bind_to_port(options_.host, options_.port);
}

void Server::serve() { http_->listen_after_bind(); }

void Server::stop() { http_->stop(); }

void Server::routes() {
  httplib::Server& s = *http_;
  const int threads = options_.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_payload_max_length(options_.max_body_bytes);
  s.set_read_timeout(30, 0);
  s.set_write_timeout(30, 0);

  // Every non-2xx answer that no handler wrote gets OpenAI's error shape (body too large, unknown path, ...).
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string message = "error " + std::to_string(res.status);
    if (res.status == 413) message = "the request body is larger than the server accepts";
    if (res.status == 404) message = "no route " + req.method + " " + req.path;
    send_json(res, res.status, error_json(ApiError(res.status, message)));
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      send_error(res, ApiError(400, e.what()));
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, e.what(), "", "server_error"));
    }
  });
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (options_.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") != "Bearer " + options_.api_key) {
      send_error(res, ApiError(401, req.has_header("Authorization") ? "the API key is not valid" : "an API key is required",
                               "", "authentication_error", "invalid_api_key"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  auto check_model = [this](const std::string& model) {
    if (!model.empty() && model != options_.model_name) {
      throw ApiError(404, "the model '" + model + "' does not exist (this server has '" + options_.model_name + "')",
                     "model", "invalid_request_error", "model_not_found");
    }
  };

  s.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"status", "ok"}, {"requests_waiting", requests_waiting()}, {"generations_cancelled", cancelled_.load()}});
  });
  s.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200,
              {{"object", "list"},
               {"data", {{{"id", options_.model_name}, {"object", "model"}, {"owned_by", "g4ref"},
                          {"g4ref", backend_.describe()}}}}});
  });

  s.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
    const ojson b = parse_body(req);
    if (!b.contains("content") || !b.at("content").is_string()) throw ApiError(400, "'content' must be a string", "content");
    const std::vector<int> ids = backend_.tokenize(b.at("content").get<std::string>());
    nlohmann::json out = {{"tokens", ids}};
    if (b.value("with_pieces", false)) {
      nlohmann::json pieces = nlohmann::json::array();
      for (int id : ids) pieces.push_back({{"id", id}, {"piece", backend_.detokenize({id})}});
      out["tokens"] = pieces;
    }
    send_json(res, 200, out);
  });
  s.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) {
    const ojson b = parse_body(req);
    if (!b.contains("tokens") || !b.at("tokens").is_array()) throw ApiError(400, "'tokens' must be a list of ids", "tokens");
    std::vector<int> ids;
    for (const auto& x : b.at("tokens")) {
      if (!x.is_number_integer()) throw ApiError(400, "'tokens' must be a list of ids", "tokens");
      ids.push_back(x.get<int>());
    }
    send_json(res, 200, {{"content", backend_.detokenize(ids)}});
  });
  s.Post("/apply-template", [this](const httplib::Request& req, httplib::Response& res) {
    const ChatRequest r = parse_chat_request(parse_body(req), options_.default_max_tokens);
    send_json(res, 200, {{"prompt", backend_.render(r.conversation)}});
  });

  s.Post("/v1/chat/completions", [this, check_model](const httplib::Request& req, httplib::Response& res) {
    auto r = std::make_shared<ChatRequest>(parse_chat_request(parse_body(req), options_.default_max_tokens));
    check_model(r->model);
    const std::string id = "chatcmpl-" + std::to_string(next_id_++);
    const int64_t created = now_seconds();
    if (!r->stream) {
      // The answer is one JSON object, but it is sent as a chunked body whose generation writes one space (JSON's
      // leading whitespace) per token: a client that has gone away makes a write fail, and the generation stops
      // there instead of holding the model for nobody.
      auto turn = std::make_shared<Turn>(*this);
      auto prompt = std::make_shared<Prompt>(backend_.prepare(r->conversation, options_.media));
      res.set_chunked_content_provider("application/json", [this, r, turn, prompt, id, created](size_t, httplib::DataSink& sink) {
        GenerateOptions g = r->generate;
        bool gone = false;
        g.cancelled = [&] { return gone || !sink.is_writable(); };
        const GenerateResult result = backend_.generate(*prompt, g, [&](int) {
          if (!gone && !sink.write(" ", 1)) gone = true;
        });
        if (gone || !sink.is_writable()) {
          ++cancelled_;
          turn->release();
          sink.done();
          return false;
        }
        std::string content;
        const nlohmann::json calls = parse_tool_calls(result.text, &content);
        nlohmann::json message = {{"role", "assistant"}, {"content", content}};
        if (!calls.empty()) message["tool_calls"] = calls;
        nlohmann::json logprobs = nullptr;
        if (r->logprobs) {
          logprobs = {{"content", nlohmann::json::array()}};
          for (const TokenLogprob& t : result.logprobs) logprobs["content"].push_back(chat_logprob_json(t, backend_, r->top_logprobs));
        }
        const std::string body = dump(
            {{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", options_.model_name},
             {"system_fingerprint", "g4ref-" + std::string(G4REF_VERSION)},
             {"choices", {{{"index", 0}, {"message", message}, {"logprobs", logprobs},
                           {"finish_reason", finish_reason(result, !calls.empty())}}}},
             {"usage", {{"prompt_tokens", prompt->ids.size()}, {"completion_tokens", result.ids.size()},
                        {"total_tokens", prompt->ids.size() + result.ids.size()}}},
             {"prompt_token_ids", prompt->ids}});
        turn->release();
        sink.write(body.data(), body.size());
        sink.done();
        return true;
      });
      return;
    }
    // Streaming: the request is checked (and its media prepared) before the stream starts, so errors are still
    // plain HTTP errors; the generation then runs inside the content provider, holding the model.
    auto turn = std::make_shared<Turn>(*this);
    auto prompt = std::make_shared<Prompt>(backend_.prepare(r->conversation, options_.media));
    res.set_chunked_content_provider(
        "text/event-stream", [this, r, turn, prompt, id, created](size_t, httplib::DataSink& sink) {
          auto event = [&](const nlohmann::json& j) {
            const std::string line = "data: " + dump(j) + "\n\n";
            return sink.write(line.data(), line.size());
          };
          auto chunk = [&](const nlohmann::json& delta, const nlohmann::json& finish, const nlohmann::json& logprobs) {
            return nlohmann::json{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created},
                                  {"model", options_.model_name},
                                  {"choices", {{{"index", 0}, {"delta", delta}, {"logprobs", logprobs},
                                                {"finish_reason", finish}}}}};
          };
          event(chunk({{"role", "assistant"}, {"content", ""}}, nullptr, nullptr));
          std::vector<int> ids;
          std::string sent;
          GenerateOptions g = r->generate;
          g.cancelled = [&sink] { return !sink.is_writable(); };
          // Text is sent as it becomes whole: the decoded text of all ids so far, from where the last chunk ended
          // (a character split over byte tokens comes out whole); stop strings are held back until ruled out.
          const GenerateResult result = backend_.generate(*prompt, g, [&](int tok) {
            ids.push_back(tok);
            const std::string text = backend_.detokenize(ids);
            size_t safe = text.size();
            for (const std::string& st : r->generate.stop) {
              for (size_t k = 1; k < st.size() && k <= text.size(); ++k) {
                if (text.compare(text.size() - k, k, st, 0, k) == 0) safe = std::min(safe, text.size() - k);
              }
              const size_t at = text.find(st);
              if (!st.empty() && at != std::string::npos) safe = std::min(safe, at);
            }
            while (safe > sent.size() && (static_cast<unsigned char>(text[safe - 1]) & 0xC0) == 0x80) --safe;
            if (safe > sent.size() && text.compare(0, sent.size(), sent) == 0) {
              event(chunk({{"content", text.substr(sent.size(), safe - sent.size())}}, nullptr, nullptr));
              sent = text.substr(0, safe);
            }
          });
          if (!sink.is_writable()) {
            ++cancelled_;
            turn->release();
            sink.done();
            return false;
          }
          std::string content;
          const nlohmann::json calls = parse_tool_calls(result.text, &content);
          if (content.size() > sent.size() && content.compare(0, sent.size(), sent) == 0) {
            event(chunk({{"content", content.substr(sent.size())}}, nullptr, nullptr));
          }
          nlohmann::json delta = nlohmann::json::object();
          if (!calls.empty()) delta["tool_calls"] = calls;
          nlohmann::json logprobs = nullptr;
          if (r->logprobs) {
            logprobs = {{"content", nlohmann::json::array()}};
            for (const TokenLogprob& t : result.logprobs) logprobs["content"].push_back(chat_logprob_json(t, backend_, r->top_logprobs));
          }
          event(chunk(delta, finish_reason(result, !calls.empty()), logprobs));
          if (r->include_usage) {
            event({{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", options_.model_name},
                   {"choices", nlohmann::json::array()},
                   {"usage", {{"prompt_tokens", prompt->ids.size()}, {"completion_tokens", result.ids.size()},
                              {"total_tokens", prompt->ids.size() + result.ids.size()}}}});
          }
          const std::string done = "data: [DONE]\n\n";
          turn->release();
          sink.write(done.data(), done.size());
          sink.done();
          return true;
        });
  });

  s.Post("/v1/completions", [this, check_model](const httplib::Request& req, httplib::Response& res) {
    const CompletionRequest r = parse_completion_request(parse_body(req), options_.default_max_tokens);
    check_model(r.model);
    if (r.stream) throw ApiError(400, "streaming is offered on /v1/chat/completions only", "stream");
    Turn turn(*this);
    std::vector<int> ids = r.ids_given ? r.ids : backend_.tokenize(r.text);
    // A text prompt gets exactly one leading <bos> (spec §5), as vLLM's add_special_tokens does for completions.
    const std::vector<int> bos = backend_.tokenize("<bos>");
    if (!r.ids_given && !bos.empty() && (ids.empty() || ids[0] != bos[0])) ids.insert(ids.begin(), bos[0]);
    if (ids.empty()) throw ApiError(400, "the prompt has no tokens", "prompt");
    Prompt p;
    p.ids = ids;
    p.token_types.assign(ids.size(), kText);
    p.block_ids.assign(ids.size(), -1);
    const int k = std::max({r.logprobs, r.prompt_logprobs, 1});
    // Prompt scoring (echo / prompt_logprobs): teacher-forced logprobs of every prompt token after the first.
    std::vector<TokenLogprob> scored;
    if ((r.echo && r.logprobs >= 0) || r.prompt_logprobs >= 0) {
      if (ids.size() > 1) {
        Prompt first = p;
        first.ids.resize(1);
        first.token_types.resize(1);
        first.block_ids.resize(1);
        scored = backend_.score(first, std::vector<int>(ids.begin() + 1, ids.end()), k).tokens;
      }
    }
    GenerateResult g;
    if (r.generate.max_new_tokens > 0) g = backend_.generate(p, r.generate);
    else g.finish_reason = "length";
    std::string text = g.text;
    nlohmann::json lp = nullptr;
    if (r.logprobs >= 0) {
      nlohmann::json tokens = nlohmann::json::array(), token_logprobs = nlohmann::json::array(),
                     top = nlohmann::json::array(), offsets = nlohmann::json::array(), token_ids = nlohmann::json::array();
      size_t offset = 0;
      auto add = [&](int id, nlohmann::json logprob, const std::vector<TopLogprob>& entries) {
        const std::string piece = backend_.detokenize({id});
        tokens.push_back(piece);
        token_ids.push_back(id);
        token_logprobs.push_back(logprob);
        nlohmann::json m = nlohmann::json::object();
        for (size_t e = 0; e < entries.size() && static_cast<int>(e) < r.logprobs; ++e) {
          m[backend_.detokenize({entries[e].id})] = entries[e].logprob;
        }
        top.push_back(entries.empty() && logprob.is_null() ? nlohmann::json(nullptr) : m);
        offsets.push_back(offset);
        offset += piece.size();
      };
      if (r.echo) {
        add(ids[0], nullptr, {});
        for (size_t i = 0; i < scored.size(); ++i) add(scored[i].id, scored[i].logprob, scored[i].top);
      }
      for (const TokenLogprob& t : g.logprobs) add(t.id, t.logprob, t.top);
      lp = {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets},
            {"token_ids", token_ids}};
    }
    if (r.echo) text = (r.ids_given ? backend_.detokenize(ids) : r.text) + text;
    nlohmann::json choice = {{"index", 0}, {"text", text}, {"logprobs", lp}, {"finish_reason", finish_reason(g, false)}};
    nlohmann::json out = {{"id", "cmpl-" + std::to_string(next_id_++)}, {"object", "text_completion"},
                          {"created", now_seconds()}, {"model", options_.model_name}, {"choices", {choice}},
                          {"usage", {{"prompt_tokens", ids.size()}, {"completion_tokens", g.ids.size()},
                                     {"total_tokens", ids.size() + g.ids.size()}}},
                          {"prompt_token_ids", ids}};
    if (r.prompt_logprobs >= 0) {
      // vLLM's shape: one entry per prompt token, the first null, each a map id -> {logprob, rank, decoded_token}
      // holding the prompt token itself and the top entries.
      nlohmann::json pl = nlohmann::json::array({nullptr});
      for (const TokenLogprob& t : scored) {
        nlohmann::json m = nlohmann::json::object();
        m[std::to_string(t.id)] = {{"logprob", t.logprob}, {"rank", t.rank}, {"decoded_token", backend_.detokenize({t.id})}};
        for (size_t e = 0; e < t.top.size() && static_cast<int>(e) < r.prompt_logprobs; ++e) {
          const TopLogprob& x = t.top[e];
          if (x.id == t.id) continue;
          m[std::to_string(x.id)] = {{"logprob", x.logprob}, {"rank", static_cast<int>(e) + 1},
                                     {"decoded_token", backend_.detokenize({x.id})}};
        }
        pl.push_back(m);
      }
      out["prompt_logprobs"] = pl;
    }
    send_json(res, 200, out);
  });
}

}  // namespace g4ref
