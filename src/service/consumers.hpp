// The AMQP side of each consuming service: decode a delivery, call the business handler
// on the service's store, describe what it emits. Poison is reported, never thrown.
#pragma once

#include <SQLiteCpp/Database.h>

#include "events/codec.hpp"
#include "handlers/context.hpp"
#include "service/pipeline.hpp"
#include "store/notifications.hpp"
#include "store/orders.hpp"
#include "store/stock.hpp"

namespace orderflow::service {

// inventory.order-placed: OrderPlaced -> InventoryReserved | InventoryRejected.
class InventoryMessageHandler final : public MessageHandler {
  public:
    InventoryMessageHandler(SQLite::Database& db, handlers::EventContext ctx);
    HandlerOutcome Handle(const broker::Delivery& delivery, std::vector<Emitted>& emit) override;

  private:
    store::StockTable stock_;
    handlers::EventContext ctx_;
};

// notification.inventory-events: inventory outcome -> NotificationSent.
class NotificationMessageHandler final : public MessageHandler {
  public:
    NotificationMessageHandler(SQLite::Database& db, handlers::EventContext ctx);
    HandlerOutcome Handle(const broker::Delivery& delivery, std::vector<Emitted>& emit) override;

  private:
    store::NotificationTable notifications_;
    handlers::EventContext ctx_;
};

// ingress.order-status: inventory and notification events -> order stages.
class OrderStatusMessageHandler final : public MessageHandler {
  public:
    explicit OrderStatusMessageHandler(SQLite::Database& db);
    HandlerOutcome Handle(const broker::Delivery& delivery, std::vector<Emitted>& emit) override;

  private:
    store::OrderTable orders_;
};

template <class Event>
Emitted ToEmitted(const Event& event) {
    return Emitted{event.envelope.type, event.envelope.event_id, event.envelope.order_id,
                   events::Encode(event)};
}

}  // namespace orderflow::service
