// The admin token of SPEC section 11 that guards the console's write actions (replay,
// purge): `Authorization: Bearer <token>`; none -> 401 UNAUTHENTICATED, a wrong one -> 403
// FORBIDDEN, and with no token configured every write action is 403 (the console is
// read-only). The comparison takes the same time wherever the first difference is, and the
// token is never logged (the access log records method, path and status only). Pure.
#pragma once

#include <string>
#include <string_view>

namespace orderflow::console {

enum class AdminCheck { kAllowed, kUnauthenticated, kForbidden };

// Equal strings, in time that depends on the lengths only.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// `authorization`: the header's value, nullptr when absent.
AdminCheck CheckAdmin(std::string_view configured_token, const std::string* authorization);

}  // namespace orderflow::console
