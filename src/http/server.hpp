// HTTP/1.1 server on Boost.Beast. Beast stays inside server.cpp: callers see plain
// Request/Response values and a callback-style handler, so a handler may answer later
// from another thread (e.g. after a publisher confirm).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orderflow::http {

struct Request {
    std::string method;                         // "GET", "POST", ...
    std::string target;                         // as sent: "/orders/abc?x=1"
    std::string path;                           // "/orders/abc" (percent-decoding not applied)
    std::map<std::string, std::string> query;   // decoded
    std::map<std::string, std::string> params;  // filled by Router from "{name}" segments
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;

    const std::string* Header(std::string_view lower_name) const;
};

struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
};

// {"error":{"code":...,"message":...,"details":...}} (details omitted when empty).
Response JsonError(int status, std::string_view code, std::string_view message,
                   std::string_view details = {});
Response Json(int status, std::string body);

// Must be called exactly once, from any thread.
using Respond = std::function<void(Response)>;
using Handler = std::function<void(Request&& request, Respond respond)>;

// Method + path pattern ("/orders/{id}") dispatch; 404 NOT_FOUND for unknown paths and
// 405 METHOD_NOT_ALLOWED (with Allow) for known paths with another method.
class Router final {
  public:
    void Add(std::string method, std::string pattern, Handler handler);
    // Replaces the handler of the route registered as (method, pattern) by wrap(handler),
    // e.g. to put an authentication check in front of it; false if no such route.
    bool Wrap(std::string_view method, std::string_view pattern,
              const std::function<Handler(Handler)>& wrap);
    void Handle(Request&& request, Respond respond) const;
    // The pattern that matches `path` ("/orders/{id}"), for metrics labels; "other" if none.
    std::string RouteOf(std::string_view path) const;

  private:
    struct Route {
        std::string method;
        std::vector<std::string> segments;
        Handler handler;
    };
    std::vector<Route> routes_;
};

struct ServerOptions {
    std::string address = "127.0.0.1";
    uint16_t port = 0;                                 // 0: pick a free port (tests)
    size_t body_limit = 64 * 1024;                     // larger bodies get 413 PAYLOAD_TOO_LARGE
    std::chrono::milliseconds header_timeout{10000};   // to read a request's header
    std::chrono::milliseconds idle_timeout{60000};     // keep-alive with no request
    std::chrono::milliseconds handler_timeout{60000};  // a handler that never answers
    size_t max_connections = 2048;                     // beyond: accept then close at once (also
                                                       // capped by RLIMIT_NOFILE, see below)
    // Called once per answered request (metrics, access log), on an I/O thread.
    std::function<void(const Request&, const Response&, std::chrono::nanoseconds)> on_complete;
};

class Server final {
  public:
    Server(boost::asio::io_context& io, ServerOptions options, Handler handler);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    std::expected<void, std::string> Start();  // binds and listens
    uint16_t Port() const;                     // the bound port
    void Stop();                               // stops accepting; open connections close
    // A graceful stop's first step: stops accepting and starting requests (a request read
    // from now on is answered 503 SHUTTING_DOWN), closes idle connections, and waits up to
    // `timeout` until every request already in the handler's hands is answered. Blocks:
    // call it from a thread that does not run the io_context. False on timeout.
    bool Drain(std::chrono::milliseconds timeout);

  private:
    class Impl;
    std::shared_ptr<Impl> impl_;
};

// The connection cap actually applied: `requested`, lowered so that open connections leave
// `reserve` file descriptors of the process limit `fd_limit` for everything else (the broker
// connections, SQLite files). Beyond the descriptor limit accept() fails instead of
// refusing politely, and the service could no longer reconnect to its broker.
size_t EffectiveConnectionCap(size_t requested, uint64_t fd_limit, size_t reserve = 128);

// "127.0.0.1:8000" -> ("127.0.0.1", 8000); "[::1]:8000" -> ("::1", 8000); an empty host
// (":8000") means all interfaces ("0.0.0.0"). False on syntax errors.
bool ParseHostPort(std::string_view text, std::string& host, uint16_t& port);

// %XX decoding (malformed escapes are kept as they are); '+' becomes a space only in query
// strings (application/x-www-form-urlencoded), never in paths.
std::string PercentDecode(std::string_view text, bool plus_as_space);
// "a=1&b=x+y&c" -> {a:1, b:"x y", c:""}; the first of repeated keys wins.
std::map<std::string, std::string> ParseQuery(std::string_view query);
// Fills request.target, .path and .query from a request target as sent.
void SetTarget(Request& request, std::string_view target);

}  // namespace orderflow::http
