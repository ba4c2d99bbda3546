// Asynchronous HTTP/1.1 client for the synchronous chain (ingress -> inventory /reserve ->
// notification /send). Keeps idle keep-alive connections for reuse; Beast stays in
// client.cpp. Thread-safe: Send may be called from any thread, completions run on the
// client's strand (an I/O thread of the executor).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orderflow::http {

struct ClientResponse {
    int status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased

    const std::string* Header(std::string_view lower_name) const;
};

struct ClientError {
    enum class Kind { kConnect, kTimeout, kIo };
    Kind kind = Kind::kIo;
    std::string message;
};

using ClientResult = std::expected<ClientResponse, ClientError>;

struct ClientOptions {
    size_t max_idle_connections = 16;
    // Idle connections older than this are not reused: the server may be closing them
    // (our server's default idle timeout is 60 s).
    std::chrono::milliseconds idle_ttl{30000};
    size_t response_body_limit = 8 * 1024 * 1024;
};

class Client final {
  public:
    // `base_url`: "http://host:port" with an optional path prefix; throws
    // std::invalid_argument for anything else (https is not supported).
    Client(boost::asio::any_io_executor executor, std::string_view base_url,
           ClientOptions options = {});
    ~Client();  // closes idle connections; requests in flight still complete
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // One request; `done` is called exactly once, on the client's strand. `timeout` bounds
    // the whole exchange (resolve, connect, write, read). A body without a Content-Type
    // header is sent as application/json. A reused connection that fails before any byte
    // of the answer is retried once on a fresh connection (the server closed it while idle).
    void Send(std::string method, std::string target, std::string body,
              std::vector<std::pair<std::string, std::string>> headers,
              std::chrono::milliseconds timeout, std::function<void(ClientResult)> done);

    // Connections opened so far (tests check keep-alive reuse with it).
    uint64_t ConnectionsOpened() const;

  private:
    class Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace orderflow::http
