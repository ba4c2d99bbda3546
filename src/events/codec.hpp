// JSON codec for events and the order request, validated against the JSON Schemas in
// schemas/ (compiled into the binary). Untrusted input never throws: errors are values.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "events/events.hpp"

namespace orderflow::events {

struct DecodeError {
    enum class Kind {
        kNotJson,          // body is not parseable JSON
        kSchemaViolation,  // JSON, but violates the schema (message says where)
        kUnknownType,      // event_type is not one we know, or not the one expected here
        kUnknownVersion,   // schema_version we do not understand
    };
    Kind kind = Kind::kNotJson;
    std::string message;  // human-readable, e.g. "Invalid JSON at offset 34: Invalid value."
};
std::string_view KindName(DecodeError::Kind kind);  // "not_json", "schema_violation", ...

// HTTP order request: unknown fields rejected; limits of SPEC section 4 enforced.
std::expected<OrderRequest, DecodeError> DecodeOrderRequest(std::string_view body);

// Reads only the envelope fields (after validating the body against its type's schema).
std::expected<Envelope, DecodeError> DecodeEnvelope(std::string_view body);

// Event consumers: unknown fields of a known schema_version are ignored.
std::expected<OrderPlaced, DecodeError> DecodeOrderPlaced(std::string_view body);
std::expected<InventoryEvent, DecodeError> DecodeInventoryEvent(std::string_view body);
std::expected<NotificationSent, DecodeError> DecodeNotificationSent(std::string_view body);

// Encoders produce compact JSON that validates against the schema of the event type.
std::string Encode(const OrderPlaced& event);
std::string Encode(const InventoryReserved& event);
std::string Encode(const InventoryRejected& event);
std::string Encode(const InventoryEvent& event);
std::string Encode(const NotificationSent& event);

// Validates an encoded event body against the schema of `type` (used on publish).
std::expected<void, DecodeError> Validate(EventType type, std::string_view body);

// Encode, validated as it is written (the schema validator sees the writer's calls, so the
// body is never parsed back): the body if Validate would accept it, else Validate's error.
std::expected<std::string, DecodeError> EncodeChecked(const OrderPlaced& event);
std::expected<std::string, DecodeError> EncodeChecked(const InventoryReserved& event);
std::expected<std::string, DecodeError> EncodeChecked(const InventoryRejected& event);
std::expected<std::string, DecodeError> EncodeChecked(const InventoryEvent& event);
std::expected<std::string, DecodeError> EncodeChecked(const NotificationSent& event);

}  // namespace orderflow::events
