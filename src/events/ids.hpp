// Identifiers and times on the wire: UUIDs, RFC 3339 timestamps, W3C traceparent.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace orderflow::events {

using TimePoint = std::chrono::system_clock::time_point;
// Injected wherever time matters, so tests never depend on the wall clock.
using Clock = std::function<TimePoint()>;
Clock SystemClock();

// Time-ordered version-7 UUID (RFC 9562), lower case: ids made later by one thread sort
// later; 74 random bits (seeded from the OS once per thread) keep them unique.
std::string NewUuid();
bool IsUuid(std::string_view text);

// "2026-11-21T12:00:00.000Z"
std::string FormatTime(TimePoint t);
// Accepts RFC 3339 / ISO 8601 with 'Z' or an offset, with or without fractional seconds.
std::optional<TimePoint> ParseTime(std::string_view text);
// "2026-11-21T12:00Z" (the minute bucket used by analytics)
std::string FormatMinute(TimePoint t);
int64_t ToUnixMillis(TimePoint t);
TimePoint FromUnixMillis(int64_t ms);

// W3C trace context: "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>".
struct TraceContext {
    std::string trace_id;   // 32 lower-case hex
    std::string parent_id;  // 16 lower-case hex
    uint8_t flags = 1;
};
std::optional<TraceContext> ParseTraceparent(std::string_view header);
std::string FormatTraceparent(const TraceContext& ctx);
TraceContext NewTrace();
// Same trace id, new span id: what each hop puts on what it emits.
TraceContext ChildSpan(const TraceContext& parent);

}  // namespace orderflow::events
