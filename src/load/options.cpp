// Parsing of the load options' text forms (URL, durations, headers) and their validation.
#include "load/options.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>

namespace orderflow::load {
namespace {

std::string_view Trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    return text;
}

bool IsToken(std::string_view name) {
    if (name.empty()) return false;
    for (const char c : name) {
        const bool ok = std::isalnum(static_cast<unsigned char>(c)) ||
                        std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

bool HasControl(std::string_view text) {
    for (const char c : text) {
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return true;
    }
    return false;
}

}  // namespace

std::expected<Url, std::string> ParseUrl(std::string_view text) {
    constexpr std::string_view kScheme = "http://";
    if (text.starts_with("https://")) {
        return std::unexpected("https is not supported: load measures plain HTTP");
    }
    if (!text.starts_with(kScheme)) {
        return std::unexpected(fmt::format("'{}' is not an http:// URL", text));
    }
    text.remove_prefix(kScheme.size());
    const size_t slash = text.find_first_of("/?");
    std::string_view authority = text.substr(0, slash);
    Url url;
    if (slash != std::string_view::npos) {
        // "http://h?x=1" means "/?x=1" (built, not inserted: g++ 12 warns on insert here).
        const std::string_view rest = text.substr(slash);
        url.target = rest.front() == '?' ? fmt::format("/{}", rest) : std::string(rest);
    }
    if (authority.find('@') != std::string_view::npos) {
        return std::unexpected("credentials in the URL are not supported: use --header");
    }
    std::string_view port_text;
    if (authority.starts_with('[')) {  // [v6]:port
        const size_t close = authority.find(']');
        if (close == std::string_view::npos) return std::unexpected("unbalanced '[' in URL");
        url.host = std::string(authority.substr(1, close - 1));
        std::string_view rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::unexpected("bad text after ']' in URL");
            port_text = rest.substr(1);
        }
    } else {
        const size_t colon = authority.rfind(':');
        url.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (url.host.empty()) return std::unexpected("the URL has no host");
    if (!port_text.empty()) {
        unsigned port = 0;
        const auto [end, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
            port > 65535) {
            return std::unexpected(fmt::format("bad port '{}' in URL", port_text));
        }
        url.port = static_cast<uint16_t>(port);
    }
    if (HasControl(url.target) || url.target.find(' ') != std::string::npos) {
        return std::unexpected("the URL path has spaces or control characters");
    }
    return url;
}

std::expected<std::chrono::nanoseconds, std::string> ParseDuration(std::string_view text,
                                                                   bool allow_zero) {
    text = Trim(text);
    double scale = 1e9;  // seconds by default
    std::string_view number = text;
    if (text.ends_with("ms")) {
        scale = 1e6;
        number.remove_suffix(2);
    } else if (text.ends_with('s')) {
        number.remove_suffix(1);
    } else if (text.ends_with('m')) {
        scale = 60e9;
        number.remove_suffix(1);
    } else if (text.ends_with('h')) {
        scale = 3600e9;
        number.remove_suffix(1);
    }
    double value = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
        !std::isfinite(value) || value < 0 || (value == 0 && !allow_zero) ||
        value * scale > 1e9 * 86400 * 365) {
        return std::unexpected(
            fmt::format("bad duration '{}' (examples: 30, 30s, 500ms, 2m)", text));
    }
    return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(value * scale)));
}

std::expected<std::pair<std::string, std::string>, std::string> ParseHeader(std::string_view text) {
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos) {
        // Not echoed: the text may be a credential (Authorization: Bearer <key>).
        return std::unexpected("bad header: expected 'Name: value'");
    }
    const std::string_view name = Trim(text.substr(0, colon));
    const std::string_view value = Trim(text.substr(colon + 1));
    if (!IsToken(name)) return std::unexpected("bad header: the name is not an HTTP token");
    if (HasControl(value)) {
        // The name only: the value may be a secret.
        return std::unexpected(
            fmt::format("bad header '{}': its value contains control characters", name));
    }
    return std::pair{std::string(name), std::string(value)};
}

std::expected<void, std::string> Validate(const LoadOptions& options) {
    if (options.duration.count() <= 0 && options.max_requests == 0) {
        return std::unexpected("give --duration or --requests");
    }
    if (options.mode == LoopMode::kOpen) {
        if (!(options.rate > 0) || !std::isfinite(options.rate) || options.rate > 10'000'000) {
            return std::unexpected("--rate must be > 0 (requests per second)");
        }
        if (options.max_connections == 0) return std::unexpected("--connections must be >= 1");
    } else if (options.concurrency == 0) {
        return std::unexpected("--concurrency must be >= 1");
    }
    if (options.threads == 0 || options.threads > 64) {
        return std::unexpected("--threads must be 1..64");
    }
    if (options.mode == LoopMode::kClosed && options.threads > options.concurrency) {
        return std::unexpected("--threads must not exceed --concurrency");
    }
    if (options.mode == LoopMode::kOpen && options.threads > options.max_connections) {
        return std::unexpected("--threads must not exceed --connections");
    }
    if (options.timeout.count() <= 0) return std::unexpected("--timeout must be > 0 ms");
    if (!IsToken(options.method)) {
        return std::unexpected(fmt::format("bad method '{}'", options.method));
    }
    return {};
}

}  // namespace orderflow::load
