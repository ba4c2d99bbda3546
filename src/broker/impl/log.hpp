// Internal: one warning line on stderr for what the broker threads cannot report through a
// return value (reconnects, a channel closed by the broker, a handler that threw).
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string_view>

namespace orderflow::broker::impl {

inline void LogWarning(std::string_view component, std::string_view text) {
    // One fmt::print call per line, so lines from different threads do not interleave.
    fmt::print(stderr, "orderflow broker {}: {}\n", component, text);
}

}  // namespace orderflow::broker::impl
