// A client of one OpenAI-compatible server (http:// only): JSON in, JSON out, the HTTP status kept. Shared by the
// endpoint backend and the endpoint cross-check.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace httplib {
class Client;
}

namespace g4ref {

class HttpEndpoint {
 public:
  // URL: [http://]host[:port][/]; API_KEY: sent as a bearer token when not empty.
  HttpEndpoint(const std::string& url, const std::string& api_key, int read_timeout_seconds = 600);
  ~HttpEndpoint();
  // STATUS gets the HTTP status (-1: no answer); the answer's JSON, or null when there was none or it was not JSON.
  nlohmann::json post(const std::string& path, const nlohmann::json& body, int* status);
  nlohmann::json get(const std::string& path, int* status);
  const std::string& url() const { return url_; }

 private:
  std::string url_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace g4ref
