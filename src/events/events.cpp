// Wire names of event types, routing keys, reject reasons and notification outcomes.
#include "events/events.hpp"

#include <array>

namespace orderflow::events {
namespace {

struct TypeNames {
    EventType type;
    std::string_view name;
    std::string_view routing_key;
};

constexpr std::array<TypeNames, 4> kTypeNames{{
    {EventType::kOrderPlaced, "OrderPlaced", "order.placed"},
    {EventType::kInventoryReserved, "InventoryReserved", "inventory.reserved"},
    {EventType::kInventoryRejected, "InventoryRejected", "inventory.rejected"},
    {EventType::kNotificationSent, "NotificationSent", "notification.sent"},
}};

const TypeNames& Names(EventType type) {
    for (const auto& names : kTypeNames) {
        if (names.type == type) return names;
    }
    // Unreachable for a valid enumerator; a cast-in garbage value still gets a name.
    return kTypeNames[0];
}

}  // namespace

std::string_view TypeName(EventType type) { return Names(type).name; }

std::string_view RoutingKey(EventType type) { return Names(type).routing_key; }

bool ParseTypeName(std::string_view name, EventType& out) {
    for (const auto& names : kTypeNames) {
        if (names.name == name) {
            out = names.type;
            return true;
        }
    }
    return false;
}

std::string_view ReasonCode(RejectReason reason) {
    switch (reason) {
        case RejectReason::kOutOfStock:
            return "OUT_OF_STOCK";
        case RejectReason::kUnknownSku:
            return "UNKNOWN_SKU";
    }
    return "UNKNOWN_SKU";
}

bool ParseReasonCode(std::string_view code, RejectReason& out) {
    for (const auto reason : {RejectReason::kOutOfStock, RejectReason::kUnknownSku}) {
        if (ReasonCode(reason) == code) {
            out = reason;
            return true;
        }
    }
    return false;
}

std::string_view OutcomeName(NotificationOutcome outcome) {
    switch (outcome) {
        case NotificationOutcome::kConfirmed:
            return "confirmed";
        case NotificationOutcome::kRejected:
            return "rejected";
    }
    return "rejected";
}

bool ParseOutcomeName(std::string_view name, NotificationOutcome& out) {
    for (const auto outcome : {NotificationOutcome::kConfirmed, NotificationOutcome::kRejected}) {
        if (OutcomeName(outcome) == name) {
            out = outcome;
            return true;
        }
    }
    return false;
}

}  // namespace orderflow::events
