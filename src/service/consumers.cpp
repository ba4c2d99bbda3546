// AMQP adapters of the business handlers.
#include "service/consumers.hpp"

#include <fmt/format.h>

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

InventoryMessageHandler::InventoryMessageHandler(SQLite::Database& db, handlers::EventContext ctx)
    : stock_(db), ctx_(std::move(ctx)) {}

HandlerOutcome InventoryMessageHandler::Handle(const broker::Delivery& delivery,
                                               std::vector<Emitted>& emit) {
    auto order = events::DecodeOrderPlaced(delivery.body);
    if (!order) return PoisonFrom(order.error());
    auto outcome = handlers::ReserveStock(*order, stock_, ctx_);
    const bool reserved = std::holds_alternative<events::InventoryReserved>(outcome);
    std::visit([&](const auto& event) { emit.push_back(ToEmitted(event)); }, outcome);
    return HandlerOutcome::Done(reserved ? "reserved" : "rejected", order->envelope.order_id);
}

NotificationMessageHandler::NotificationMessageHandler(SQLite::Database& db,
                                                       handlers::EventContext ctx)
    : notifications_(db), ctx_(std::move(ctx)) {}

HandlerOutcome NotificationMessageHandler::Handle(const broker::Delivery& delivery,
                                                  std::vector<Emitted>& emit) {
    auto event = events::DecodeInventoryEvent(delivery.body);
    if (!event) return PoisonFrom(event.error());
    auto sent = handlers::SendNotification(*event, notifications_, ctx_);
    emit.push_back(ToEmitted(sent));
    auto outcome = HandlerOutcome::Done(std::string(events::OutcomeName(sent.outcome)),
                                        sent.envelope.order_id);
    outcome.note = sent.message;
    return outcome;
}

OrderStatusMessageHandler::OrderStatusMessageHandler(SQLite::Database& db) : orders_(db) {}

HandlerOutcome OrderStatusMessageHandler::Handle(const broker::Delivery& delivery,
                                                 std::vector<Emitted>&) {
    auto projected = handlers::ProjectOrderEvent(delivery.body, orders_);
    if (!projected) return PoisonFrom(projected.error());
    return HandlerOutcome::Done("projected", delivery.properties.correlation_id);
}

}  // namespace orderflow::service
