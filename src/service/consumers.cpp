// AMQP adapters of the business handlers.
#include "service/consumers.hpp"

#include <fmt/format.h>

#include <set>

#include "events/codec.hpp"
#include "handlers/inventory.hpp"
#include "handlers/notification.hpp"
#include "handlers/order_status.hpp"

namespace orderflow::service {
namespace {

HandlerOutcome PoisonFrom(const events::DecodeError& error) {
    return HandlerOutcome::Poison(
        fmt::format("{}: {}", events::KindName(error.kind), error.message));
}

}  // namespace

InventoryMessageHandler::InventoryMessageHandler(handlers::EventContext ctx)
    : ctx_(std::move(ctx)) {}

void InventoryMessageHandler::Prepare(std::span<const broker::Delivery* const> batch,
                                      store::UnitOfWork& unit) {
    std::set<std::string> skus;
    decoded_.clear();
    for (const auto* delivery : batch) {
        auto order = events::DecodeOrderPlaced(delivery->body);
        if (!order) continue;  // poison: Handle says so
        for (const auto& item : order->items) skus.insert(item.sku);
        decoded_.emplace(delivery, Decoded{delivery->body, std::move(*order)});
    }
    const std::vector<std::string> sorted(skus.begin(), skus.end());
    unit.LockStock(sorted);
}

// The order Prepare decoded for this delivery (each body is parsed and validated once per
// batch); decoded again if Prepare did not see it, or saw another body at that address.
std::expected<events::OrderPlaced, events::DecodeError> InventoryMessageHandler::OrderOf(
    const broker::Delivery& delivery) {
    const auto found = decoded_.find(&delivery);
    if (found != decoded_.end() && found->second.body == delivery.body) {
        auto order = std::move(found->second.order);
        decoded_.erase(found);
        return order;
    }
    return events::DecodeOrderPlaced(delivery.body);
}

HandlerOutcome InventoryMessageHandler::Handle(const broker::Delivery& delivery,
                                               store::UnitOfWork& unit,
                                               std::vector<Emitted>& emit) {
    auto order = OrderOf(delivery);
    if (!order) return PoisonFrom(order.error());
    auto outcome = handlers::ReserveStock(*order, unit.StockRows(), ctx_);
    const bool reserved = std::holds_alternative<events::InventoryReserved>(outcome);
    std::visit([&](const auto& event) { emit.push_back(Emitted::Of(event)); }, outcome);
    return HandlerOutcome::Done(reserved ? "reserved" : "rejected", order->envelope.order_id);
}

NotificationMessageHandler::NotificationMessageHandler(handlers::EventContext ctx)
    : ctx_(std::move(ctx)) {}

HandlerOutcome NotificationMessageHandler::Handle(const broker::Delivery& delivery,
                                                  store::UnitOfWork& unit,
                                                  std::vector<Emitted>& emit) {
    auto event = events::DecodeInventoryEvent(delivery.body);
    if (!event) return PoisonFrom(event.error());
    auto sent = handlers::SendNotification(*event, unit.NotificationRows(), ctx_);
    emit.push_back(Emitted::Of(sent));
    auto outcome = HandlerOutcome::Done(std::string(events::OutcomeName(sent.outcome)),
                                        sent.envelope.order_id);
    outcome.note = sent.message;
    return outcome;
}

HandlerOutcome OrderStatusMessageHandler::Handle(const broker::Delivery& delivery,
                                                 store::UnitOfWork& unit, std::vector<Emitted>&) {
    auto projected = handlers::ProjectOrderEvent(delivery.body, unit.OrderRows());
    if (!projected) return PoisonFrom(projected.error());
    return HandlerOutcome::Done("projected", delivery.properties.correlation_id);
}

}  // namespace orderflow::service
