#include "backends/http_endpoint.h"

#include <httplib.h>

#include "base/error.h"

namespace g4ref {

HttpEndpoint::HttpEndpoint(const std::string& url, const std::string& api_key, int read_timeout_seconds) : url_(url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  else if (rest.rfind("https://", 0) == 0) fail(url, "https is not supported; give an http:// address");
  else if (rest.find("://") != std::string::npos) fail(url, "is not an http:// address");
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) fail(url, "give the server's base address (http://host:port), without a path");
  const size_t colon = rest.rfind(':');
  const std::string host = rest.substr(0, colon);
  int port = 80;
  if (colon != std::string::npos) {
    const std::string p = rest.substr(colon + 1);
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) < 1 ||
        std::stoi(p) > 65535) {
      fail(url, "the port '" + p + "' is not a number in 1–65535");
    }
    port = std::stoi(p);
  }
  if (host.empty()) fail(url, "names no host");
  client_ = std::make_unique<httplib::Client>(host, port);
  client_->set_read_timeout(read_timeout_seconds, 0);
  client_->set_connection_timeout(10, 0);
  if (!api_key.empty()) client_->set_bearer_token_auth(api_key);
}

HttpEndpoint::~HttpEndpoint() = default;

nlohmann::json HttpEndpoint::post(const std::string& path, const nlohmann::json& body, int* status) {
  auto r = client_->Post(path.c_str(), body.dump(), "application/json");
  *status = r ? r->status : -1;
  if (!r) return nullptr;
  return nlohmann::json::parse(r->body, nullptr, false);
}

nlohmann::json HttpEndpoint::get(const std::string& path, int* status) {
  auto r = client_->Get(path.c_str());
  *status = r ? r->status : -1;
  if (!r) return nullptr;
  return nlohmann::json::parse(r->body, nullptr, false);
}

}  // namespace g4ref
