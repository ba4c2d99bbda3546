// Maps inventory/notification events to order stages.
#include "handlers/order_status.hpp"

namespace orderflow::handlers {

std::expected<void, events::DecodeError> ProjectOrderEvent(std::string_view body,
                                                           store::OrderStages& orders) {
    auto envelope = events::DecodeEnvelope(body);
    if (!envelope) return std::unexpected(envelope.error());

    switch (envelope->type) {
        case events::EventType::kInventoryReserved:
            orders.RecordStage(envelope->order_id, "reserved", envelope->occurred_at, "confirmed");
            return {};
        case events::EventType::kInventoryRejected:
            orders.RecordStage(envelope->order_id, "rejected", envelope->occurred_at, "rejected");
            return {};
        case events::EventType::kNotificationSent: {
            auto sent = events::DecodeNotificationSent(body);
            if (!sent) return std::unexpected(sent.error());
            orders.RecordStage(envelope->order_id, "notified", envelope->occurred_at,
                               events::OutcomeName(sent->outcome));
            return {};
        }
        case events::EventType::kOrderPlaced:
            break;
    }
    return std::unexpected(events::DecodeError{events::DecodeError::Kind::kUnknownType,
                                               "OrderPlaced is not an order-status event"});
}

}  // namespace orderflow::handlers
