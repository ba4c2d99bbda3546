// Internal to orderflow_events: the compiled JSON Schemas (parsed once per process) and
// validation with readable errors ("/items/0/quantity: maximum 1000").
#pragma once

#include <expected>

#include "events/codec.hpp"
#include "events/events.hpp"
#include "events/impl/rapidjson.hpp"

namespace orderflow::events::impl {

enum class SchemaId {
    kOrderRequest,
    kOrderPlaced,
    kInventoryReserved,
    kInventoryRejected,
    kNotificationSent,
};

SchemaId SchemaFor(EventType type);

// The compiled schema (built on first use, thread-safe), for validators of other kinds, e.g.
// one that checks a body while it is written (see encode.cpp).
const SchemaDocument& Compiled(SchemaId id);

// Validates a parsed document against a compiled schema. Thread-safe: the compiled schemas are
// immutable after their one-time, thread-safe construction and each call owns its validator.
// The error is kSchemaViolation, its message "<JSON pointer>: <keyword> <detail>".
std::expected<void, DecodeError> ValidateAgainst(SchemaId id, const rapidjson::Value& document);

}  // namespace orderflow::events::impl
