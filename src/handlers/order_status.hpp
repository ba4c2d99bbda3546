// The ingress's order-status projection: which stage an order has reached.
#pragma once

#include <expected>
#include <string_view>

#include "events/codec.hpp"
#include "store/interfaces.hpp"

namespace orderflow::handlers {

// Applies an inventory or notification event body to the projection. Idempotent:
// replays and duplicates change nothing. Unknown or malformed bodies are errors (poison).
std::expected<void, events::DecodeError> ProjectOrderEvent(std::string_view body,
                                                           store::OrderStages& orders);

}  // namespace orderflow::handlers
