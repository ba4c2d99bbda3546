// Inventory business logic: all-or-nothing stock reservation for an order.
// Transport-free: the AMQP consumer and the sync chain's POST /reserve both call it.
#pragma once

#include "events/events.hpp"
#include "handlers/context.hpp"
#include "store/interfaces.hpp"

namespace orderflow::handlers {

// Reserves every item of the order or none. Items naming the same sku are summed.
// A rejection (unknown sku, not enough stock) is a business outcome, not a failure.
// Must run inside the caller's transaction so the check and the change are atomic.
events::InventoryEvent ReserveStock(const events::OrderPlaced& order, store::Stock& stock,
                                    const EventContext& ctx);

}  // namespace orderflow::handlers
