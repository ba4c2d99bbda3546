// Order analytics over the event stream: orders placed, orders rejected by inventory,
// their ratio, and orders placed per minute, all by event time, so a replay of the same
// events gives the same figures. Duplicate events (same event_id) count once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "events/events.hpp"

namespace orderflow::handlers {

struct OrderStats {
    int64_t total_orders = 0;
    int64_t failed_orders = 0;
    std::map<std::string, int64_t> orders_per_minute;  // "2026-11-21T12:00Z" -> count

    double FailureRate() const;
    // {"total_orders":..,"failed_orders":..,"failure_rate":..,"orders_per_minute":[...]}
    std::string ToJson() const;
};

// Adds one event (already known to be new) to the figures; false if the event does not
// count (not an OrderPlaced or InventoryRejected, or an unparseable time).
bool CountEvent(const events::Envelope& envelope, OrderStats& stats);

}  // namespace orderflow::handlers
