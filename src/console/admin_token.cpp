// Admin token checks; see admin_token.hpp.
#include "console/admin_token.hpp"

#include <cctype>

namespace orderflow::console {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
    // Every byte of `a` is compared (against `b` cycled, or a zero when `b` is empty), so the
    // time says nothing about where they differ; the length difference is folded in too.
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i) {
        const unsigned char other = b.empty() ? 0 : static_cast<unsigned char>(b[i % b.size()]);
        diff |= static_cast<unsigned char>(static_cast<unsigned char>(a[i]) ^ other);
    }
    return diff == 0;
}

AdminCheck CheckAdmin(std::string_view configured_token, const std::string* authorization) {
    if (configured_token.empty()) return AdminCheck::kForbidden;  // read-only console
    if (authorization == nullptr) return AdminCheck::kUnauthenticated;
    std::string_view value = *authorization;
    constexpr std::string_view kScheme = "bearer";
    if (value.size() <= kScheme.size() || value[kScheme.size()] != ' ') {
        return AdminCheck::kUnauthenticated;
    }
    for (size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) {
            return AdminCheck::kUnauthenticated;  // another scheme (Basic ...): no bearer token
        }
    }
    value.remove_prefix(kScheme.size() + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (value.empty()) return AdminCheck::kUnauthenticated;
    return ConstantTimeEquals(value, configured_token) ? AdminCheck::kAllowed
                                                       : AdminCheck::kForbidden;
}

}  // namespace orderflow::console
