// GET /api/orders/{id} for an order the live model no longer keeps (it keeps the last
// LiveModel::kMaxOrders orders seen since analytics started). Order ids are version-7 UUIDs,
// so an id says when the order was placed: the lookup attaches to orders.events a few
// seconds before that time (x-stream-offset as an interval, "<N>s") and reads forward,
// keeping only that order's events (matched on correlation_id, the order id, before any
// decoding), until its NotificationSent, the stream's end as the console last read it, or
// a budget of messages and time. It indexes nothing: its memory is one timeline.
//
// Threading: opens its own connection; runs on the console's lookup thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "broker/client.hpp"

namespace orderflow::console {

// The Unix milliseconds of a version-7 UUID; nullopt for any other text.
std::optional<int64_t> UuidV7Millis(std::string_view id);

struct LookupLimits {
    int64_t margin_s = 5;              // start this long before the id's time (clocks, chunks)
    int64_t max_messages = 3'000'000;  // read at most this many
    std::chrono::milliseconds max_time{10'000};
    std::chrono::milliseconds quiet{500};  // no delivery this long: the stream's end
};

struct LookupResult {
    std::optional<std::string> json;  // the timeline document; nullopt: no event found
    int64_t scanned = 0;              // messages read
};

// `end_offset`: the last offset the console has read (the search stops there), if known.
std::expected<LookupResult, std::string> FindOrderInStream(
    const broker::ConnectionOptions& connection, const std::string& order_id, int64_t now_ms,
    std::optional<int64_t> end_offset, const LookupLimits& limits = {});

}  // namespace orderflow::console
