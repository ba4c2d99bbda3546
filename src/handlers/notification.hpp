// Notification business logic: turn an inventory outcome into the message a person reads,
// record it, and describe the NotificationSent event to emit.
#pragma once

#include <string>

#include "events/events.hpp"
#include "handlers/context.hpp"
#include "store/interfaces.hpp"

namespace orderflow::handlers {

// "Order <id> confirmed! Reserved items: burger: 1, fries: 2" or
// "Order <id> rejected: Item 'food' not found in inventory".
std::string NotificationText(const events::InventoryEvent& event);

// Records the notification (inside the caller's transaction) and returns the event.
events::NotificationSent SendNotification(const events::InventoryEvent& event,
                                          store::Notifications& notifications,
                                          const EventContext& ctx);

}  // namespace orderflow::handlers
