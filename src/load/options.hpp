// What a load run does: target, request, loop mode and limits. Parsed and validated once,
// before any connection is opened, so a usage error never looks like a slow target.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orderflow::load {

struct Url {
    std::string host;
    uint16_t port = 80;
    std::string target = "/";  // path and query, as sent
};

// http://host[:port][/path][?query]; https is refused (the tool measures plain HTTP).
std::expected<Url, std::string> ParseUrl(std::string_view text);
// "30" and "30s" (seconds), "500ms", "2m", "1.5s"; strictly positive unless allow_zero.
std::expected<std::chrono::nanoseconds, std::string> ParseDuration(std::string_view text,
                                                                   bool allow_zero = false);
// "Name: value" or "Name:value".
std::expected<std::pair<std::string, std::string>, std::string> ParseHeader(std::string_view text);

enum class LoopMode {
    kClosed,  // `concurrency` connections, each sends its next request when the answer arrives
    kOpen,    // a request every 1/rate from the start, whatever the answers do
};

inline constexpr std::string_view kDefaultOrderBody = R"({"user_id":"load","items":{"burger":1}})";
inline constexpr std::string_view kSeqPlaceholder = "{{seq}}";

struct LoadOptions {
    Url url;
    std::string method = "POST";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  // may hold {{seq}} placeholders (also allowed in the target)
    LoopMode mode = LoopMode::kClosed;
    uint32_t concurrency = 16;                 // closed loop
    double rate = 0;                           // requests per second, open loop
    uint32_t max_connections = 256;            // open loop pool limit
    std::chrono::nanoseconds duration{0};      // 0: until `max_requests` are done
    std::chrono::nanoseconds warmup{0};        // load offered but not recorded, before `duration`
    std::chrono::milliseconds timeout{30000};  // per request, from the moment it is sent
    uint64_t max_requests = 0;                 // 0: no limit
    uint32_t threads = 1;                      // one io_context per thread
    uint64_t seq_start = 1;                    // first value of {{seq}}
};

// Cross-field checks: a limit to stop at, sane numbers. The message suits a usage error.
std::expected<void, std::string> Validate(const LoadOptions& options);

}  // namespace orderflow::load
