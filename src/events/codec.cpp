// Decoding of event bodies and the HTTP order request: parse, identify, check the version,
// validate against the compiled schema, then map to structs. Never throws on bad input.
#include "events/codec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>

#include "events/ids.hpp"
#include "events/impl/json_document.hpp"
#include "events/impl/schema_registry.hpp"

namespace orderflow::events {
namespace {

using Kind = DecodeError::Kind;

std::unexpected<DecodeError> Fail(Kind kind, std::string message) {
    return std::unexpected(DecodeError{kind, std::move(message)});
}

// After schema validation these cannot fail; they stay checked so a schema edit that drops a
// `required` turns into a decode error instead of undefined behaviour.
std::expected<std::string, DecodeError> String(const rapidjson::Value& object, const char* name) {
    const auto it = object.FindMember(name);
    if (it == object.MemberEnd() || !it->value.IsString()) {
        return Fail(Kind::kSchemaViolation,
                    fmt::format("/{}: required (missing \"{}\")", name, name));
    }
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::expected<std::vector<Item>, DecodeError> ItemArray(const rapidjson::Value& object) {
    const auto it = object.FindMember("items");
    if (it == object.MemberEnd() || !it->value.IsArray()) {
        return Fail(Kind::kSchemaViolation, "/items: required (missing \"items\")");
    }
    std::vector<Item> items;
    items.reserve(it->value.Size());
    for (const auto& element : it->value.GetArray()) {
        if (!element.IsObject()) return Fail(Kind::kSchemaViolation, "/items: type \"object\"");
        auto sku = String(element, "sku");
        if (!sku) return std::unexpected(sku.error());
        const auto quantity = element.FindMember("quantity");
        if (quantity == element.MemberEnd() || !quantity->value.IsInt()) {
            return Fail(Kind::kSchemaViolation, "/items: quantity \"integer\"");
        }
        items.push_back(Item{std::move(*sku), quantity->value.GetInt()});
    }
    return items;
}

// Parses the body and checks, in this order, that it is an object, that its event_type is one
// of `accepted` and that its schema_version is one we understand; then validates it against
// the type's schema. The version is checked before the schema so that a v2 body is reported
// as an unknown version rather than as whatever v1 rule it happens to break.
std::expected<EventType, DecodeError> CheckEvent(std::string_view body, rapidjson::Document& doc,
                                                 std::initializer_list<EventType> accepted,
                                                 std::string_view expected) {
    if (auto parsed = impl::ParseJson(body, doc); !parsed) return std::unexpected(parsed.error());
    if (!doc.IsObject()) return Fail(Kind::kSchemaViolation, "(root): type \"object\"");

    const auto type_member = doc.FindMember("event_type");
    if (type_member == doc.MemberEnd()) return Fail(Kind::kUnknownType, "missing event_type");
    if (!type_member->value.IsString()) {
        return Fail(Kind::kUnknownType, "event_type is not a string");
    }
    const std::string_view name(type_member->value.GetString(),
                                type_member->value.GetStringLength());
    EventType type{};
    if (!ParseTypeName(name, type)) {
        return Fail(Kind::kUnknownType,
                    fmt::format("unknown event_type \"{}\"", impl::Printable(name)));
    }
    if (accepted.size() != 0 && std::ranges::find(accepted, type) == accepted.end()) {
        return Fail(Kind::kUnknownType,
                    fmt::format("expected {}, got {}", expected, TypeName(type)));
    }

    // A non-integer or missing version is left to the schema (type / required).
    const auto version = doc.FindMember("schema_version");
    if (version != doc.MemberEnd() && (version->value.IsInt64() || version->value.IsUint64()) &&
        !(version->value.IsInt() && version->value.GetInt() == kSchemaVersion)) {
        const std::string shown = version->value.IsInt64()
                                      ? std::to_string(version->value.GetInt64())
                                      : std::to_string(version->value.GetUint64());
        return Fail(Kind::kUnknownVersion,
                    fmt::format("unsupported schema_version {} of {} (this build reads {})", shown,
                                TypeName(type), kSchemaVersion));
    }

    if (auto valid = impl::ValidateAgainst(impl::SchemaFor(type), doc); !valid) {
        return std::unexpected(valid.error());
    }
    return type;
}

std::expected<Envelope, DecodeError> ReadEnvelope(const rapidjson::Value& doc, EventType type) {
    Envelope envelope;
    envelope.type = type;
    envelope.schema_version = kSchemaVersion;  // CheckEvent accepted no other
    auto event_id = String(doc, "event_id");
    auto occurred_at = String(doc, "occurred_at");
    auto order_id = String(doc, "order_id");
    if (!event_id) return std::unexpected(event_id.error());
    if (!occurred_at) return std::unexpected(occurred_at.error());
    if (!order_id) return std::unexpected(order_id.error());
    // The schema's pattern admits "2026-13-45T99:99:99Z"; analytics buckets by this time, so
    // it has to be a real one.
    if (!ParseTime(*occurred_at)) {
        return Fail(Kind::kSchemaViolation, "/occurred_at: format \"date-time\" (no such time)");
    }
    envelope.event_id = std::move(*event_id);
    envelope.occurred_at = std::move(*occurred_at);
    envelope.order_id = std::move(*order_id);
    return envelope;
}

// The fields OrderPlaced, InventoryReserved and InventoryRejected share.
template <typename Event>
std::expected<Event, DecodeError> ReadOrderEvent(const rapidjson::Value& doc, EventType type) {
    Event event;
    auto envelope = ReadEnvelope(doc, type);
    if (!envelope) return std::unexpected(envelope.error());
    auto user_id = String(doc, "user_id");
    if (!user_id) return std::unexpected(user_id.error());
    auto items = ItemArray(doc);
    if (!items) return std::unexpected(items.error());
    event.envelope = std::move(*envelope);
    event.user_id = std::move(*user_id);
    event.items = std::move(*items);
    return event;
}

std::expected<InventoryRejected, DecodeError> ReadRejected(const rapidjson::Value& doc) {
    auto event = ReadOrderEvent<InventoryRejected>(doc, EventType::kInventoryRejected);
    if (!event) return event;
    auto code = String(doc, "reason_code");
    if (!code) return std::unexpected(code.error());
    if (!ParseReasonCode(*code, event->reason_code)) {
        return Fail(Kind::kSchemaViolation, "/reason_code: enum");
    }
    auto reason = String(doc, "reason");
    if (!reason) return std::unexpected(reason.error());
    event->reason = std::move(*reason);
    return event;
}

}  // namespace

std::string_view KindName(DecodeError::Kind kind) {
    switch (kind) {
        case Kind::kNotJson:
            return "not_json";
        case Kind::kSchemaViolation:
            return "schema_violation";
        case Kind::kUnknownType:
            return "unknown_type";
        case Kind::kUnknownVersion:
            return "unknown_version";
    }
    return "unknown";
}

std::expected<OrderRequest, DecodeError> DecodeOrderRequest(std::string_view body) {
    rapidjson::Document doc;
    if (auto parsed = impl::ParseJson(body, doc); !parsed) return std::unexpected(parsed.error());
    if (auto valid = impl::ValidateAgainst(impl::SchemaId::kOrderRequest, doc); !valid) {
        return std::unexpected(valid.error());
    }
    OrderRequest request;
    auto user_id = String(doc, "user_id");
    if (!user_id) return std::unexpected(user_id.error());
    request.user_id = std::move(*user_id);
    const auto items = doc.FindMember("items");
    if (items == doc.MemberEnd() || !items->value.IsObject()) {
        return Fail(Kind::kSchemaViolation, "/items: required (missing \"items\")");
    }
    // Members keep document order, so items keep request order (duplicates included).
    for (const auto& member : items->value.GetObject()) {
        if (!member.value.IsInt()) return Fail(Kind::kSchemaViolation, "/items: type \"integer\"");
        request.items.push_back(
            Item{std::string(member.name.GetString(), member.name.GetStringLength()),
                 member.value.GetInt()});
    }
    return request;
}

std::expected<Envelope, DecodeError> DecodeEnvelope(std::string_view body) {
    rapidjson::Document doc;
    auto type = CheckEvent(body, doc, {}, "");
    if (!type) return std::unexpected(type.error());
    return ReadEnvelope(doc, *type);
}

std::expected<OrderPlaced, DecodeError> DecodeOrderPlaced(std::string_view body) {
    rapidjson::Document doc;
    auto type = CheckEvent(body, doc, {EventType::kOrderPlaced}, "OrderPlaced");
    if (!type) return std::unexpected(type.error());
    return ReadOrderEvent<OrderPlaced>(doc, *type);
}

std::expected<InventoryEvent, DecodeError> DecodeInventoryEvent(std::string_view body) {
    rapidjson::Document doc;
    auto type =
        CheckEvent(body, doc, {EventType::kInventoryReserved, EventType::kInventoryRejected},
                   "InventoryReserved or InventoryRejected");
    if (!type) return std::unexpected(type.error());
    if (*type == EventType::kInventoryReserved) {
        return ReadOrderEvent<InventoryReserved>(doc, *type);
    }
    return ReadRejected(doc);
}

std::expected<NotificationSent, DecodeError> DecodeNotificationSent(std::string_view body) {
    rapidjson::Document doc;
    auto type = CheckEvent(body, doc, {EventType::kNotificationSent}, "NotificationSent");
    if (!type) return std::unexpected(type.error());
    NotificationSent event;
    auto envelope = ReadEnvelope(doc, *type);
    if (!envelope) return std::unexpected(envelope.error());
    auto user_id = String(doc, "user_id");
    if (!user_id) return std::unexpected(user_id.error());
    auto outcome = String(doc, "outcome");
    if (!outcome) return std::unexpected(outcome.error());
    if (!ParseOutcomeName(*outcome, event.outcome)) {
        return Fail(Kind::kSchemaViolation, "/outcome: enum");
    }
    auto message = String(doc, "message");
    if (!message) return std::unexpected(message.error());
    event.envelope = std::move(*envelope);
    event.user_id = std::move(*user_id);
    event.message = std::move(*message);
    return event;
}

std::expected<void, DecodeError> Validate(EventType type, std::string_view body) {
    rapidjson::Document doc;
    auto checked = CheckEvent(body, doc, {type}, TypeName(type));
    if (!checked) return std::unexpected(checked.error());
    // Same acceptance as the consumers, so we never publish what they would dead-letter.
    if (auto envelope = ReadEnvelope(doc, type); !envelope)
        return std::unexpected(envelope.error());
    return {};
}

}  // namespace orderflow::events
