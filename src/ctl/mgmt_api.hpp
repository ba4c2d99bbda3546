// Blocking HTTP/1.1 GET against the RabbitMQ management API, with Basic auth over plain
// TCP or TLS (https://, the certificate and host name verified). orderflowctl is a short-lived
// single-threaded tool: a POSIX socket with deadlines is all it needs, no event loop. The parsing
// parts are pure and unit-tested.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace orderflow::ctl {

struct HttpUrl {
    std::string host;
    uint16_t port = 80;
    std::string user;
    std::string password;
    std::string base_path;  // "" or "/prefix" (management behind a path prefix)
    bool tls = false;       // https://
    std::string ca_file;    // PEM CA for https:// (empty: the system trust store)
};
// "http[s]://user:pass@host:port[/prefix]" (port default 80, 443 for https).
std::expected<HttpUrl, std::string> ParseHttpUrl(std::string_view url);

std::string Base64(std::string_view bytes);
std::string PercentEncode(std::string_view text);  // everything but unreserved characters
std::string PercentDecode(std::string_view text);
// The vhost an AMQP URL names: its path, percent-decoded ("%2f" -> "/"); none -> "/".
std::string VhostOf(std::string_view amqp_url);

struct HttpResponse {
    int status = 0;
    std::string reason;
    std::string body;
};
// A complete response as read until the server closed the connection; handles
// Content-Length and chunked bodies.
std::expected<HttpResponse, std::string> ParseHttpResponse(std::string_view raw);

// GET base_path + target; the body of a 200, else an error naming the URL (password
// redacted) and what went wrong.
std::expected<std::string, std::string> HttpGet(
    const HttpUrl& url, std::string_view target,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace orderflow::ctl
