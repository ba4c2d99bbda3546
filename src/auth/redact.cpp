// URL passwords masked; see redact.hpp.
#include "auth/redact.hpp"

namespace orderflow::auth {
namespace {

std::string RedactOne(std::string_view url) {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::string(url);
    const auto authority_start = scheme + 3;
    auto authority_end = url.find_first_of("/?#", authority_start);
    if (authority_end == std::string_view::npos) authority_end = url.size();
    const auto authority = url.substr(authority_start, authority_end - authority_start);
    const auto at = authority.rfind('@');
    if (at == std::string_view::npos) return std::string(url);
    const auto colon = authority.find(':');
    if (colon == std::string_view::npos || colon > at) return std::string(url);
    std::string out(url.substr(0, authority_start + colon + 1));
    out += "***";
    out += url.substr(authority_start + at);
    return out;
}

}  // namespace

std::string RedactUrl(std::string_view url) {
    std::string out;
    while (true) {
        const auto comma = url.find(',');
        out += RedactOne(url.substr(0, comma));
        if (comma == std::string_view::npos) break;
        out += ',';
        url.remove_prefix(comma + 1);
    }
    return out;
}

}  // namespace orderflow::auth
