// Blocking management-API GET; see mgmt_api.hpp.
#include "ctl/mgmt_api.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>

#include "auth/redact.hpp"

namespace orderflow::ctl {
namespace {

using Clock = std::chrono::steady_clock;

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

std::expected<std::string, std::string> DecodeChunked(std::string_view data) {
    std::string out;
    while (true) {
        const auto line_end = data.find("\r\n");
        if (line_end == std::string_view::npos) return std::unexpected("truncated chunked body");
        size_t size = 0;
        const auto [ptr, ec] = std::from_chars(data.data(), data.data() + line_end, size, 16);
        if (ec != std::errc() || ptr == data.data()) return std::unexpected("bad chunk size");
        data.remove_prefix(line_end + 2);
        if (size == 0) return out;
        if (data.size() < size + 2) return std::unexpected("truncated chunked body");
        out.append(data.substr(0, size));
        data.remove_prefix(size + 2);
    }
}

// A connected TCP socket, or an error; honours the deadline while connecting.
std::expected<int, std::string> ConnectTcp(const HttpUrl& url, Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const auto port = std::to_string(url.port);
    if (const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        return std::unexpected(fmt::format("cannot resolve {}: {}", url.host, ::gai_strerror(rc)));
    }
    std::string error = "no address";
    for (auto* ai = found; ai != nullptr; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                ai->ai_protocol);
        if (fd < 0) continue;
        int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd pfd{fd, POLLOUT, 0};
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            rc = ::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
            int so_error = ETIMEDOUT;
            socklen_t len = sizeof so_error;
            if (rc == 1) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
            errno = so_error;
            rc = so_error == 0 ? 0 : -1;
        }
        if (rc == 0) {
            ::freeaddrinfo(found);
            return fd;
        }
        error = std::strerror(errno);
        ::close(fd);
    }
    ::freeaddrinfo(found);
    return std::unexpected(fmt::format("cannot connect to {}:{}: {}", url.host, url.port, error));
}

// Sends all of `data` and reads until the peer closes, within the deadline.
std::expected<std::string, std::string> Exchange(int fd, std::string_view data,
                                                 Clock::time_point deadline) {
    std::string response;
    char buffer[16384];
    while (true) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return std::unexpected("timed out");
        pollfd pfd{fd, static_cast<short>(data.empty() ? POLLIN : POLLOUT), 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return std::unexpected(ready == 0 ? "timed out" : std::strerror(errno));
        if (!data.empty()) {
            const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n < 0) return std::unexpected(std::string("send: ") + std::strerror(errno));
            data.remove_prefix(static_cast<size_t>(n));
            continue;
        }
        const auto n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n < 0) return std::unexpected(std::string("recv: ") + std::strerror(errno));
        if (n == 0) return response;
        response.append(buffer, static_cast<size_t>(n));
    }
}

// Waits until `fd` is readable or writable as OpenSSL asked; false at the deadline.
bool WaitFor(int fd, int ssl_error, Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd, static_cast<short>(ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
    return ::poll(&pfd, 1, static_cast<int>(left.count())) >= 0;
}

std::string SslErrorText() {
    const auto code = ERR_get_error();
    if (code == 0) return "TLS error";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

// The same exchange as Exchange(), over TLS: verifies the server's certificate against
// `ca_file` (empty: the system trust store) and that it names `host`.
std::expected<std::string, std::string> TlsExchange(int fd, const HttpUrl& url,
                                                    std::string_view data,
                                                    Clock::time_point deadline) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()),
                                                              SSL_CTX_free);
    if (!context) return std::unexpected(SslErrorText());
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    // The management API closes the connection without close_notify; the response is
    // framed (Content-Length or chunked) and ParseHttpResponse refuses a truncated one.
    SSL_CTX_set_options(context.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    const bool loaded = url.ca_file.empty() ? SSL_CTX_set_default_verify_paths(context.get()) == 1
                                            : SSL_CTX_load_verify_locations(
                                                  context.get(), url.ca_file.c_str(), nullptr) == 1;
    if (!loaded) {
        return std::unexpected(
            fmt::format("cannot load the CA file '{}': {}", url.ca_file, SslErrorText()));
    }
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(context.get()), SSL_free);
    if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 || SSL_set1_host(ssl.get(), url.host.c_str()) != 1) {
        return std::unexpected(SslErrorText());
    }
    SSL_set_tlsext_host_name(ssl.get(), url.host.c_str());
    // Runs an SSL_* call until it completes, waiting on the socket as OpenSSL asks.
    auto run = [&](auto&& call) -> std::expected<int, std::string> {
        while (true) {
            const int rc = call();
            if (rc > 0) return rc;
            const int error = SSL_get_error(ssl.get(), rc);
            if (error == SSL_ERROR_ZERO_RETURN) return 0;
            if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
                const auto verify = SSL_get_verify_result(ssl.get());
                if (verify != X509_V_OK) {
                    return std::unexpected(
                        fmt::format("the server's certificate was refused: {} (CA: {})",
                                    X509_verify_cert_error_string(verify),
                                    url.ca_file.empty() ? "the system trust store" : url.ca_file));
                }
                // A peer that closes without close_notify: the end of the response here.
                if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return 0;
                return std::unexpected(SslErrorText());
            }
            if (!WaitFor(fd, error, deadline)) return std::unexpected("timed out");
        }
    };
    if (auto handshake = run([&] { return SSL_connect(ssl.get()); }); !handshake) {
        return std::unexpected("TLS handshake: " + handshake.error());
    }
    while (!data.empty()) {
        auto written =
            run([&] { return SSL_write(ssl.get(), data.data(), static_cast<int>(data.size())); });
        if (!written) return std::unexpected(written.error());
        data.remove_prefix(static_cast<size_t>(*written));
    }
    std::string response;
    char buffer[16384];
    while (true) {
        auto read = run([&] { return SSL_read(ssl.get(), buffer, sizeof buffer); });
        if (!read) return std::unexpected(read.error());
        if (*read == 0) return response;
        response.append(buffer, static_cast<size_t>(*read));
    }
}

}  // namespace

std::expected<HttpUrl, std::string> ParseHttpUrl(std::string_view url) {
    HttpUrl out;
    if (url.starts_with("https://")) {
        out.tls = true;
        out.port = 443;
        url.remove_prefix(8);
    } else if (url.starts_with("http://")) {
        url.remove_prefix(7);
    } else {
        return std::unexpected(fmt::format("'{}': the management URL must be http:// or https://",
                                           auth::RedactUrl(url)));
    }
    const auto slash = url.find('/');
    auto authority = url.substr(0, slash);
    if (slash != std::string_view::npos) {
        out.base_path = std::string(url.substr(slash));
        while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
    }
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        const auto userinfo = authority.substr(0, at);
        const auto colon = userinfo.find(':');
        out.user = PercentDecode(userinfo.substr(0, colon));
        if (colon != std::string_view::npos)
            out.password = PercentDecode(userinfo.substr(colon + 1));
        authority.remove_prefix(at + 1);
    }
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
        const auto text = authority.substr(colon + 1);
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out.port);
        if (ec != std::errc() || ptr != text.data() + text.size() || out.port == 0) {
            return std::unexpected(fmt::format("bad port '{}' in the management URL", text));
        }
    }
    if (out.host.size() > 2 && out.host.front() == '[')
        out.host = out.host.substr(1, out.host.size() - 2);
    if (out.host.empty()) return std::unexpected("no host in the management URL");
    return out;
}

std::string Base64(std::string_view bytes) {
    static constexpr char kTable[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                           (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                           static_cast<uint8_t>(bytes[i + 2]);
        out +=
            {kTable[(n >> 18) & 63], kTable[(n >> 12) & 63], kTable[(n >> 6) & 63], kTable[n & 63]};
    }
    if (i + 1 == bytes.size()) {
        const uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
        out += {kTable[(n >> 18) & 63], kTable[(n >> 12) & 63], '=', '='};
    } else if (i + 2 == bytes.size()) {
        const uint32_t n =
            (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8);
        out += {kTable[(n >> 18) & 63], kTable[(n >> 12) & 63], kTable[(n >> 6) & 63], '='};
    }
    return out;
}

std::string PercentEncode(std::string_view text) {
    std::string out;
    for (const unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

std::string PercentDecode(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
            HexValue(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

std::string VhostOf(std::string_view amqp_url) {
    amqp_url = amqp_url.substr(0, amqp_url.find(','));  // the nodes of a cluster share vhosts
    const auto scheme = amqp_url.find("://");
    if (scheme != std::string_view::npos) amqp_url.remove_prefix(scheme + 3);
    const auto slash = amqp_url.find('/');
    if (slash == std::string_view::npos) return "/";
    auto path = amqp_url.substr(slash + 1);
    path = path.substr(0, path.find_first_of("?#"));
    return path.empty() ? "/" : PercentDecode(path);
}

std::expected<HttpResponse, std::string> ParseHttpResponse(std::string_view raw) {
    const auto header_end = raw.find("\r\n\r\n");
    if (!raw.starts_with("HTTP/1.") || header_end == std::string_view::npos) {
        return std::unexpected("not an HTTP response");
    }
    HttpResponse out;
    auto head = raw.substr(0, header_end);
    auto body = raw.substr(header_end + 4);
    const auto status_end = head.find("\r\n");
    const auto status_line = head.substr(0, status_end);
    const auto space = status_line.find(' ');
    if (space == std::string_view::npos || status_line.size() < space + 4) {
        return std::unexpected("bad status line");
    }
    std::from_chars(status_line.data() + space + 1, status_line.data() + space + 4, out.status);
    if (status_line.size() > space + 5) out.reason = std::string(status_line.substr(space + 5));
    bool chunked = false;
    std::optional<size_t> length;
    head.remove_prefix(status_end == std::string_view::npos ? head.size() : status_end + 2);
    while (!head.empty()) {
        const auto line_end = head.find("\r\n");
        const auto line = head.substr(0, line_end);
        head.remove_prefix(line_end == std::string_view::npos ? head.size() : line_end + 2);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const auto name = line.substr(0, colon);
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (EqualsNoCase(name, "transfer-encoding")) chunked = value.find("chunked") != value.npos;
        if (EqualsNoCase(name, "content-length")) {
            size_t n = 0;
            if (std::from_chars(value.data(), value.data() + value.size(), n).ec == std::errc()) {
                length = n;
            }
        }
    }
    if (chunked) {
        auto decoded = DecodeChunked(body);
        if (!decoded) return std::unexpected(decoded.error());
        out.body = std::move(*decoded);
    } else if (length) {
        if (body.size() < *length) return std::unexpected("truncated body");
        out.body = std::string(body.substr(0, *length));
    } else {
        out.body = std::string(body);
    }
    return out;
}

std::expected<std::string, std::string> HttpGet(const HttpUrl& url, std::string_view target,
                                                std::chrono::milliseconds timeout) {
    const auto path = url.base_path + std::string(target);
    const auto shown =
        fmt::format("{}://{}:{}{}", url.tls ? "https" : "http", url.host, url.port, path);
    const auto deadline = Clock::now() + timeout;
    auto fd = ConnectTcp(url, deadline);
    if (!fd) return std::unexpected(fmt::format("GET {}: {}", shown, fd.error()));
    const bool ipv6 = url.host.find(':') != std::string::npos;
    auto request = fmt::format(
        "GET {} HTTP/1.1\r\nHost: {}{}{}:{}\r\nAccept: application/json\r\n"
        "User-Agent: orderflowctl\r\nConnection: close\r\n",
        path, ipv6 ? "[" : "", url.host, ipv6 ? "]" : "", url.port);
    if (!url.user.empty()) {
        request +=
            fmt::format("Authorization: Basic {}\r\n", Base64(url.user + ":" + url.password));
    }
    request += "\r\n";
    auto raw =
        url.tls ? TlsExchange(*fd, url, request, deadline) : Exchange(*fd, request, deadline);
    ::close(*fd);
    if (!raw) return std::unexpected(fmt::format("GET {}: {}", shown, raw.error()));
    auto response = ParseHttpResponse(*raw);
    if (!response) return std::unexpected(fmt::format("GET {}: {}", shown, response.error()));
    if (response->status != 200) {
        return std::unexpected(fmt::format("GET {}: HTTP {} {} {}", shown, response->status,
                                           response->reason, response->body.substr(0, 200)));
    }
    return std::move(response->body);
}

}  // namespace orderflow::ctl
