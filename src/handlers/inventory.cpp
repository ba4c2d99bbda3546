// All-or-nothing reservation: check every line first, then take; never negative.
#include "handlers/inventory.hpp"

#include <fmt/format.h>

#include <map>

namespace orderflow::handlers {
namespace {

events::InventoryRejected Reject(const events::OrderPlaced& order, const EventContext& ctx,
                                 events::RejectReason code, std::string reason) {
    events::InventoryRejected rejected;
    rejected.envelope =
        ctx.NewEnvelope(events::EventType::kInventoryRejected, order.envelope.order_id);
    rejected.user_id = order.user_id;
    rejected.items = order.items;
    rejected.reason_code = code;
    rejected.reason = std::move(reason);
    return rejected;
}

}  // namespace

events::InventoryEvent ReserveStock(const events::OrderPlaced& order, store::Stock& stock,
                                    const EventContext& ctx) {
    // Sum per sku first, so an order listing "burger" twice cannot pass the check twice.
    std::map<std::string, int64_t> wanted;
    for (const auto& item : order.items) wanted[item.sku] += item.quantity;

    for (const auto& item : order.items) {
        const auto available = stock.Available(item.sku);
        if (!available) {
            return Reject(order, ctx, events::RejectReason::kUnknownSku,
                          fmt::format("Item '{}' not found in inventory", item.sku));
        }
        if (*available < wanted[item.sku]) {
            return Reject(order, ctx, events::RejectReason::kOutOfStock,
                          fmt::format("Insufficient stock for '{}': requested {}, available {}",
                                      item.sku, wanted[item.sku], *available));
        }
    }
    for (const auto& [sku, quantity] : wanted) stock.Take(sku, quantity);

    events::InventoryReserved reserved;
    reserved.envelope =
        ctx.NewEnvelope(events::EventType::kInventoryReserved, order.envelope.order_id);
    reserved.user_id = order.user_id;
    reserved.items = order.items;
    return reserved;
}

}  // namespace orderflow::handlers
