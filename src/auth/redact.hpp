// Secrets kept out of what is printed: the password of a URL.
#pragma once

#include <string>
#include <string_view>

namespace orderflow::auth {

// The URL with the password of its user info replaced by "***"
// ("amqps://svc:***@host:5671/%2f"); a comma-separated list of URLs (the nodes of a
// cluster) has each one masked. Text that is not a URL comes back unchanged.
std::string RedactUrl(std::string_view url);

}  // namespace orderflow::auth
