// Request helpers, JSON answers and the method + path router; see server.hpp. No Beast here,
// so this part is unit-tested without a network and compiles fast.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "http/server.hpp"
#include "telemetry/log.hpp"

namespace orderflow::http {
namespace {

std::vector<std::string> SplitPath(std::string_view path) {
    std::vector<std::string> segments;
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    size_t start = 0;
    while (true) {
        const size_t slash = path.find('/', start);
        segments.emplace_back(path.substr(start, slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return segments;
}

bool IsParam(const std::string& segment) {
    return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Literal segments matched, or -1 when the path does not fit the pattern. More literal
// segments win, so "/orders/sync" beats "/orders/{id}" whatever the registration order.
int MatchScore(const std::vector<std::string>& pattern, const std::vector<std::string>& path) {
    if (pattern.size() != path.size()) return -1;
    int literals = 0;
    for (size_t i = 0; i < pattern.size(); ++i) {
        if (IsParam(pattern[i])) {
            if (path[i].empty()) return -1;
        } else if (pattern[i] == path[i]) {
            ++literals;
        } else {
            return -1;
        }
    }
    return literals;
}

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

const std::string* Request::Header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lower_name) return &value;
    }
    return nullptr;
}

Response JsonError(int status, std::string_view code, std::string_view message,
                   std::string_view details) {
    std::string body = "{\"error\":{\"code\":";
    telemetry::AppendJsonString(body, code);
    body += ",\"message\":";
    telemetry::AppendJsonString(body, message);
    if (!details.empty()) {
        body += ",\"details\":";
        telemetry::AppendJsonString(body, details);
    }
    body += "}}";
    return Json(status, std::move(body));
}

Response Json(int status, std::string body) {
    Response response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

std::string PercentDecode(std::string_view text, bool plus_as_space) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%' && i + 2 < text.size()) {
            const int hi = HexValue(text[i + 1]);
            const int lo = HexValue(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += (plus_as_space && c == '+') ? ' ' : c;
    }
    return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
    std::map<std::string, std::string> out;
    while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue;
        const size_t eq = pair.find('=');
        std::string key = PercentDecode(pair.substr(0, eq), true);
        std::string value =
            eq == std::string_view::npos ? std::string{} : PercentDecode(pair.substr(eq + 1), true);
        out.emplace(std::move(key), std::move(value));
    }
    return out;
}

void SetTarget(Request& request, std::string_view target) {
    request.target = std::string(target);
    // Absolute-form ("http://host/path", RFC 7230 5.3.2) must be accepted by servers.
    if (target.starts_with("http://") || target.starts_with("https://")) {
        const size_t authority = target.find("//") + 2;
        const size_t slash = target.find_first_of("/?", authority);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    const size_t fragment = target.find('#');
    if (fragment != std::string_view::npos) target = target.substr(0, fragment);
    const size_t question = target.find('?');
    request.path = std::string(target.substr(0, question));
    if (request.path.empty())
        request.path.assign(1, '/');  // not = "/": GCC 12 -Wrestrict false positive
    request.query = question == std::string_view::npos ? std::map<std::string, std::string>{}
                                                       : ParseQuery(target.substr(question + 1));
}

void Router::Add(std::string method, std::string pattern, Handler handler) {
    routes_.push_back(Route{std::move(method), SplitPath(pattern), std::move(handler)});
}

bool Router::Wrap(std::string_view method, std::string_view pattern,
                  const std::function<Handler(Handler)>& wrap) {
    const auto segments = SplitPath(pattern);
    for (auto& route : routes_) {
        if (route.method == method && route.segments == segments) {
            route.handler = wrap(std::move(route.handler));
            return true;
        }
    }
    return false;
}

void Router::Handle(Request&& request, Respond respond) const {
    const auto path = SplitPath(request.path);
    const Route* best = nullptr;
    int best_score = -1;
    std::set<std::string> allowed;
    for (const auto& route : routes_) {
        const int score = MatchScore(route.segments, path);
        if (score < 0) continue;
        if (route.method != request.method) {
            allowed.insert(route.method);
            continue;
        }
        if (score > best_score) {
            best = &route;
            best_score = score;
        }
    }
    if (best == nullptr) {
        if (allowed.empty()) {
            respond(JsonError(404, "NOT_FOUND",
                              fmt::format("No route for {} {}", request.method, request.path)));
            return;
        }
        std::string allow;
        for (const auto& method : allowed) {
            if (!allow.empty()) allow += ", ";
            allow += method;
        }
        auto response =
            JsonError(405, "METHOD_NOT_ALLOWED",
                      fmt::format("{} is not allowed on {}", request.method, request.path),
                      fmt::format("Allowed: {}", allow));
        response.headers.emplace_back("Allow", std::move(allow));
        respond(std::move(response));
        return;
    }
    for (size_t i = 0; i < best->segments.size(); ++i) {
        const auto& segment = best->segments[i];
        if (IsParam(segment)) {
            request.params[segment.substr(1, segment.size() - 2)] = PercentDecode(path[i], false);
        }
    }
    best->handler(std::move(request), std::move(respond));
}

std::string Router::RouteOf(std::string_view path) const {
    const auto segments = SplitPath(path);
    const Route* best = nullptr;
    int best_score = -1;
    for (const auto& route : routes_) {
        const int score = MatchScore(route.segments, segments);
        if (score > best_score) {
            best = &route;
            best_score = score;
        }
    }
    if (best == nullptr) return "other";
    std::string pattern;
    for (const auto& segment : best->segments) {
        pattern += '/';
        pattern += segment;
    }
    return pattern;
}

bool ParseHostPort(std::string_view text, std::string& host, uint16_t& port) {
    std::string_view host_part;
    std::string_view port_part;
    if (text.starts_with('[')) {  // IPv6 literal
        const size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return false;
        }
        host_part = text.substr(1, close - 1);
        port_part = text.substr(close + 2);
        if (host_part.empty()) return false;
    } else {
        const size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) return false;
        host_part = text.substr(0, colon);
        port_part = text.substr(colon + 1);
        if (host_part.find(':') != std::string_view::npos) return false;  // unbracketed IPv6
    }
    if (port_part.empty() || port_part.size() > 5) return false;
    unsigned value = 0;
    const auto [end, ec] =
        std::from_chars(port_part.data(), port_part.data() + port_part.size(), value);
    if (ec != std::errc{} || end != port_part.data() + port_part.size() || value > 65535) {
        return false;
    }
    host = host_part.empty() ? std::string("0.0.0.0") : std::string(host_part);
    port = static_cast<uint16_t>(value);
    return true;
}

}  // namespace orderflow::http
