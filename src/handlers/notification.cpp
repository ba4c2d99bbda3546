// Notification texts and recording.
#include "handlers/notification.hpp"

#include <fmt/format.h>

namespace orderflow::handlers {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
    using Ts::operator()...;
};

}  // namespace

std::string NotificationText(const events::InventoryEvent& event) {
    return std::visit(Overloaded{
                          [](const events::InventoryReserved& reserved) {
                              std::string items;
                              for (const auto& item : reserved.items) {
                                  if (!items.empty()) items += ", ";
                                  items += fmt::format("{}: {}", item.sku, item.quantity);
                              }
                              return fmt::format("Order {} confirmed! Reserved items: {}",
                                                 reserved.envelope.order_id, items);
                          },
                          [](const events::InventoryRejected& rejected) {
                              return fmt::format("Order {} rejected: {}",
                                                 rejected.envelope.order_id, rejected.reason);
                          },
                      },
                      event);
}

events::NotificationSent SendNotification(const events::InventoryEvent& event,
                                          store::Notifications& notifications,
                                          const EventContext& ctx) {
    const bool confirmed = std::holds_alternative<events::InventoryReserved>(event);
    const auto& cause = confirmed ? std::get<events::InventoryReserved>(event).envelope
                                  : std::get<events::InventoryRejected>(event).envelope;
    const auto& user_id = confirmed ? std::get<events::InventoryReserved>(event).user_id
                                    : std::get<events::InventoryRejected>(event).user_id;

    events::NotificationSent sent;
    sent.envelope = ctx.NewEnvelope(events::EventType::kNotificationSent, cause.order_id);
    sent.user_id = user_id;
    sent.outcome = confirmed ? events::NotificationOutcome::kConfirmed
                             : events::NotificationOutcome::kRejected;
    sent.message = NotificationText(event);

    notifications.Add(store::NotificationRecord{
        .order_id = cause.order_id,
        .outcome = std::string(events::OutcomeName(sent.outcome)),
        .message = sent.message,
        .at = sent.envelope.occurred_at,
    });
    return sent;
}

}  // namespace orderflow::handlers
