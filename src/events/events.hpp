// Domain events of orderflow and the HTTP order request: plain structs, no JSON types.
// The wire format is defined by schemas/*.json; codec.hpp converts both ways.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace orderflow::events {

inline constexpr int kSchemaVersion = 1;

enum class EventType { kOrderPlaced, kInventoryReserved, kInventoryRejected, kNotificationSent };

// "OrderPlaced", ... (the AMQP `type` property and the body's event_type).
std::string_view TypeName(EventType type);
// "order.placed", "inventory.reserved", "inventory.rejected", "notification.sent".
std::string_view RoutingKey(EventType type);
// Parses a TypeName; false if unknown.
bool ParseTypeName(std::string_view name, EventType& out);

struct Item {
    std::string sku;
    int quantity = 0;
    bool operator==(const Item&) const = default;
};

// POST /orders body: {"user_id":"user1","items":{"burger":1}}; items keep request order.
struct OrderRequest {
    std::string user_id;
    std::vector<Item> items;
};

// Fields every event body carries.
struct Envelope {
    std::string event_id;  // UUID; equals the AMQP message_id
    EventType type = EventType::kOrderPlaced;
    int schema_version = kSchemaVersion;
    std::string occurred_at;  // RFC 3339 UTC with milliseconds
    std::string order_id;
};

struct OrderPlaced {
    Envelope envelope;
    std::string user_id;
    std::vector<Item> items;
};

enum class RejectReason { kOutOfStock, kUnknownSku };
std::string_view ReasonCode(RejectReason reason);  // "OUT_OF_STOCK", "UNKNOWN_SKU"
// Parses a ReasonCode; false if unknown.
bool ParseReasonCode(std::string_view code, RejectReason& out);

struct InventoryReserved {
    Envelope envelope;
    std::string user_id;
    std::vector<Item> items;
};

struct InventoryRejected {
    Envelope envelope;
    std::string user_id;
    std::vector<Item> items;
    RejectReason reason_code = RejectReason::kUnknownSku;
    std::string reason;  // "Item 'food' not found in inventory"
};

using InventoryEvent = std::variant<InventoryReserved, InventoryRejected>;

enum class NotificationOutcome { kConfirmed, kRejected };
std::string_view OutcomeName(NotificationOutcome outcome);  // "confirmed", "rejected"
// Parses an OutcomeName; false if unknown.
bool ParseOutcomeName(std::string_view name, NotificationOutcome& out);

struct NotificationSent {
    Envelope envelope;
    std::string user_id;
    NotificationOutcome outcome = NotificationOutcome::kConfirmed;
    std::string message;
};

}  // namespace orderflow::events
