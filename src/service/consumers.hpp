// The AMQP side of each consuming service: decode a delivery, call the business handler
// on the unit of work of the batch, describe what it emits. Poison is reported, never thrown.
#pragma once

#include <unordered_map>

#include "events/codec.hpp"
#include "handlers/context.hpp"
#include "service/pipeline.hpp"

namespace orderflow::service {

// inventory.order-placed: OrderPlaced -> InventoryReserved | InventoryRejected.
class InventoryMessageHandler final : public MessageHandler {
  public:
    explicit InventoryMessageHandler(handlers::EventContext ctx);
    // Locks the stock rows of every order of the batch at once, in sku order.
    void Prepare(std::span<const broker::Delivery* const> batch, store::UnitOfWork& unit) override;
    HandlerOutcome Handle(const broker::Delivery& delivery, store::UnitOfWork& unit,
                          std::vector<Emitted>& emit) override;

  private:
    struct Decoded {
        std::string body;  // what was decoded, so a reused address is never mistaken
        events::OrderPlaced order;
    };
    std::expected<events::OrderPlaced, events::DecodeError> OrderOf(
        const broker::Delivery& delivery);

    handlers::EventContext ctx_;
    // Orders decoded by Prepare for the batch in hand (consumer thread only).
    std::unordered_map<const broker::Delivery*, Decoded> decoded_;
};

// notification.inventory-events: inventory outcome -> NotificationSent.
class NotificationMessageHandler final : public MessageHandler {
  public:
    explicit NotificationMessageHandler(handlers::EventContext ctx);
    HandlerOutcome Handle(const broker::Delivery& delivery, store::UnitOfWork& unit,
                          std::vector<Emitted>& emit) override;

  private:
    struct Decoded {
        std::string body;  // what was decoded, so a reused address is never mistaken
        events::OrderPlaced order;
    };
    std::expected<events::OrderPlaced, events::DecodeError> OrderOf(
        const broker::Delivery& delivery);

    handlers::EventContext ctx_;
    // Orders decoded by Prepare for the batch in hand (consumer thread only).
    std::unordered_map<const broker::Delivery*, Decoded> decoded_;
};

// ingress.order-status: inventory and notification events -> order stages.
class OrderStatusMessageHandler final : public MessageHandler {
  public:
    HandlerOutcome Handle(const broker::Delivery& delivery, store::UnitOfWork& unit,
                          std::vector<Emitted>& emit) override;
};

}  // namespace orderflow::service
