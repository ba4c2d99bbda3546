// Unit tests of the events codec: round trips, the order request's limits, poison kinds.
// (Robustness against hostile input: events_robustness_test.cpp; ids and times:
// events_ids_test.cpp.)
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "events/codec.hpp"

namespace ev = orderflow::events;
using Kind = ev::DecodeError::Kind;

namespace {

constexpr const char* kEventId = "0b6f3c58-5c1e-4c7a-9d3e-1f2a3b4c5d6e";
constexpr const char* kOrderId = "7d0f8a2e-3b4c-4d5e-8f60-718293a4b5c6";
constexpr const char* kAt = "2026-11-21T12:00:00.000Z";

ev::Envelope MakeEnvelope(ev::EventType type) {
    return ev::Envelope{kEventId, type, ev::kSchemaVersion, kAt, kOrderId};
}

std::vector<ev::Item> TwoItems() { return {{"burger", 1}, {"fries", 2}}; }

// A valid OrderPlaced body with `extra` spliced in before the closing brace.
std::string OrderPlacedBody(const std::string& items = R"([{"sku":"burger","quantity":1}])",
                            const std::string& extra = "", const std::string& version = "1",
                            const std::string& type = "OrderPlaced") {
    return std::string(R"({"event_id":")") + kEventId + R"(","event_type":")" + type +
           R"(","schema_version":)" + version + R"(,"occurred_at":")" + kAt + R"(","order_id":")" +
           kOrderId + R"(","user_id":"user1","items":)" + items + extra + "}";
}

std::string Request(const std::string& user_id, const std::string& items) {
    return R"({"user_id":)" + user_id + R"(,"items":)" + items + "}";
}

// Expects a decode failure of `kind` whose message contains `fragment`.
template <typename Result>
void RequireError(const Result& result, Kind kind, const std::string& fragment) {
    REQUIRE_FALSE(result.has_value());
    INFO("message: " << result.error().message);
    CHECK(ev::KindName(result.error().kind) == ev::KindName(kind));
    CHECK_THAT(result.error().message, Catch::Contains(fragment));
}

}  // namespace

TEST_CASE("event type names, routing keys and codes are the wire names of the SPEC") {
    using T = ev::EventType;
    const std::vector<std::tuple<T, std::string, std::string>> expected{
        {T::kOrderPlaced, "OrderPlaced", "order.placed"},
        {T::kInventoryReserved, "InventoryReserved", "inventory.reserved"},
        {T::kInventoryRejected, "InventoryRejected", "inventory.rejected"},
        {T::kNotificationSent, "NotificationSent", "notification.sent"},
    };
    for (const auto& [type, name, key] : expected) {
        CHECK(ev::TypeName(type) == name);
        CHECK(ev::RoutingKey(type) == key);
        T parsed = T::kNotificationSent;
        REQUIRE(ev::ParseTypeName(name, parsed));
        CHECK(parsed == type);
    }
    T unused{};
    CHECK_FALSE(ev::ParseTypeName("orderplaced", unused));
    CHECK(ev::ReasonCode(ev::RejectReason::kOutOfStock) == "OUT_OF_STOCK");
    CHECK(ev::ReasonCode(ev::RejectReason::kUnknownSku) == "UNKNOWN_SKU");
    CHECK(ev::OutcomeName(ev::NotificationOutcome::kConfirmed) == "confirmed");
    CHECK(ev::OutcomeName(ev::NotificationOutcome::kRejected) == "rejected");
    CHECK(ev::KindName(Kind::kUnknownVersion) == "unknown_version");
}

TEST_CASE("OrderPlaced encodes compactly in the SPEC's field order and decodes back") {
    const ev::OrderPlaced event{MakeEnvelope(ev::EventType::kOrderPlaced), "user1", TwoItems()};
    const std::string body = ev::Encode(event);
    CHECK(body ==
          OrderPlacedBody(R"([{"sku":"burger","quantity":1},{"sku":"fries","quantity":2}])"));
    CHECK(ev::Validate(ev::EventType::kOrderPlaced, body).has_value());

    const auto decoded = ev::DecodeOrderPlaced(body);
    REQUIRE(decoded.has_value());
    CHECK(decoded->envelope.event_id == kEventId);
    CHECK(decoded->envelope.type == ev::EventType::kOrderPlaced);
    CHECK(decoded->envelope.schema_version == 1);
    CHECK(decoded->envelope.occurred_at == kAt);
    CHECK(decoded->envelope.order_id == kOrderId);
    CHECK(decoded->user_id == "user1");
    CHECK(decoded->items == TwoItems());
}

TEST_CASE("InventoryReserved and InventoryRejected round trip through DecodeInventoryEvent") {
    const ev::InventoryReserved reserved{MakeEnvelope(ev::EventType::kInventoryReserved), "u",
                                         TwoItems()};
    const auto back = ev::DecodeInventoryEvent(ev::Encode(reserved));
    REQUIRE(back.has_value());
    REQUIRE(std::holds_alternative<ev::InventoryReserved>(*back));
    const auto& r = std::get<ev::InventoryReserved>(*back);
    CHECK(r.envelope.type == ev::EventType::kInventoryReserved);
    CHECK(r.user_id == "u");
    CHECK(r.items == TwoItems());

    const ev::InventoryRejected rejected{MakeEnvelope(ev::EventType::kInventoryRejected), "u",
                                         TwoItems(), ev::RejectReason::kOutOfStock,
                                         "Item 'fries' is out of stock"};
    const std::string body = ev::Encode(ev::InventoryEvent{rejected});
    CHECK(body == ev::Encode(rejected));
    CHECK_THAT(body,
               Catch::EndsWith(
                   R"("reason_code":"OUT_OF_STOCK","reason":"Item 'fries' is out of stock"})"));
    CHECK(ev::Validate(ev::EventType::kInventoryRejected, body).has_value());
    const auto decoded = ev::DecodeInventoryEvent(body);
    REQUIRE(decoded.has_value());
    REQUIRE(std::holds_alternative<ev::InventoryRejected>(*decoded));
    const auto& j = std::get<ev::InventoryRejected>(*decoded);
    CHECK(j.envelope.type == ev::EventType::kInventoryRejected);
    CHECK(j.items == TwoItems());
    CHECK(j.reason_code == ev::RejectReason::kOutOfStock);
    CHECK(j.reason == "Item 'fries' is out of stock");
}

TEST_CASE("NotificationSent round trips, including non-ASCII and escaped text") {
    const ev::NotificationSent sent{MakeEnvelope(ev::EventType::kNotificationSent), "zoë",
                                    ev::NotificationOutcome::kRejected,
                                    "Order \"x\" rejected:\n\tItem 'food' not found"};
    const std::string body = ev::Encode(sent);
    CHECK(ev::Validate(ev::EventType::kNotificationSent, body).has_value());
    const auto decoded = ev::DecodeNotificationSent(body);
    REQUIRE(decoded.has_value());
    CHECK(decoded->envelope.type == ev::EventType::kNotificationSent);
    CHECK(decoded->user_id == "zoë");
    CHECK(decoded->outcome == ev::NotificationOutcome::kRejected);
    CHECK(decoded->message == sent.message);
}

TEST_CASE("DecodeEnvelope reads the envelope of every event type") {
    const ev::NotificationSent sent{MakeEnvelope(ev::EventType::kNotificationSent), "u",
                                    ev::NotificationOutcome::kConfirmed, "ok"};
    const auto envelope = ev::DecodeEnvelope(ev::Encode(sent));
    REQUIRE(envelope.has_value());
    CHECK(envelope->type == ev::EventType::kNotificationSent);
    CHECK(envelope->event_id == kEventId);
    CHECK(envelope->order_id == kOrderId);
    CHECK(envelope->occurred_at == kAt);
    const auto placed = ev::DecodeEnvelope(OrderPlacedBody());
    REQUIRE(placed.has_value());
    CHECK(placed->type == ev::EventType::kOrderPlaced);
    // It validates the whole body, not only the envelope.
    RequireError(ev::DecodeEnvelope(OrderPlacedBody("[]")), Kind::kSchemaViolation,
                 "/items: minItems");
}

TEST_CASE("an order request decodes with its items in request order") {
    const auto request = ev::DecodeOrderRequest(
        R"({"user_id":"user1","items":{"pizza":2,"burger":1,"so_da.2-x":1000}})");
    REQUIRE(request.has_value());
    CHECK(request->user_id == "user1");
    CHECK(request->items ==
          std::vector<ev::Item>{{"pizza", 2}, {"burger", 1}, {"so_da.2-x", 1000}});
    // Duplicate keys are kept as parsed; merging them is the handler's business.
    const auto duplicated = ev::DecodeOrderRequest(Request(R"("u")", R"({"a":1,"a":2})"));
    REQUIRE(duplicated.has_value());
    CHECK(duplicated->items == std::vector<ev::Item>{{"a", 1}, {"a", 2}});
}

TEST_CASE("an order request's user_id must be 1 to 128 characters, counted as code points") {
    RequireError(ev::DecodeOrderRequest(Request(R"("")", R"({"a":1})")), Kind::kSchemaViolation,
                 "/user_id: minLength 1");
    RequireError(ev::DecodeOrderRequest(Request('"' + std::string(129, 'u') + '"', R"({"a":1})")),
                 Kind::kSchemaViolation, "/user_id: maxLength 128");
    CHECK(ev::DecodeOrderRequest(Request('"' + std::string(128, 'u') + '"', R"({"a":1})")));
    std::string accented;  // 128 x "é": 256 bytes, 128 characters
    for (int i = 0; i < 128; ++i) accented += "\xC3\xA9";
    const auto ok = ev::DecodeOrderRequest(Request('"' + accented + '"', R"({"a":1})"));
    REQUIRE(ok.has_value());
    CHECK(ok->user_id == accented);
    RequireError(ev::DecodeOrderRequest(Request('"' + accented + "\xC3\xA9\"", R"({"a":1})")),
                 Kind::kSchemaViolation, "maxLength");
    RequireError(ev::DecodeOrderRequest(Request("42", R"({"a":1})")), Kind::kSchemaViolation,
                 "/user_id: type \"string\"");
    RequireError(ev::DecodeOrderRequest(R"({"items":{"a":1}})"), Kind::kSchemaViolation,
                 "(root): required (missing \"user_id\")");
}

TEST_CASE("an order request has 1 to 100 items") {
    RequireError(ev::DecodeOrderRequest(Request(R"("u")", "{}")), Kind::kSchemaViolation,
                 "/items: minProperties 1");
    std::string items = "{";
    for (int i = 0; i < 100; ++i) items += (i ? "," : "") + ("\"sku" + std::to_string(i) + "\":1");
    CHECK(ev::DecodeOrderRequest(Request(R"("u")", items + "}"))->items.size() == 100);
    RequireError(ev::DecodeOrderRequest(Request(R"("u")", items + R"(,"one_more":1})")),
                 Kind::kSchemaViolation, "/items: maxProperties 100");
    RequireError(ev::DecodeOrderRequest(Request(R"("u")", R"([{"sku":"a","quantity":1}])")),
                 Kind::kSchemaViolation, "/items: type \"object\"");
}

TEST_CASE("an order request's skus match ^[A-Za-z0-9_.-]{1,64}$") {
    const std::string u = R"("u")";
    CHECK(ev::DecodeOrderRequest(Request(u, "{\"" + std::string(64, 's') + "\":1}")));
    RequireError(ev::DecodeOrderRequest(Request(u, "{\"" + std::string(65, 's') + "\":1}")),
                 Kind::kSchemaViolation, "additionalProperties");
    for (const std::string bad : {"bur ger", "", "caf\xC3\xA9", "a/b", "burger\\u0000x", "x\\n"}) {
        INFO("sku " << bad);
        RequireError(ev::DecodeOrderRequest(Request(u, "{\"" + bad + "\":1}")),
                     Kind::kSchemaViolation, "additionalProperties (unknown field)");
    }
    RequireError(ev::DecodeOrderRequest(Request(u, R"({"bur ger":1})")), Kind::kSchemaViolation,
                 "/items/bur ger: additionalProperties");
}

TEST_CASE("an order request's quantities are integers from 1 to 1000") {
    const std::string u = R"("u")";
    CHECK(ev::DecodeOrderRequest(Request(u, R"({"a":1,"b":1000})")));
    RequireError(ev::DecodeOrderRequest(Request(u, R"({"burger":0})")), Kind::kSchemaViolation,
                 "/items/burger: minimum 1");
    RequireError(ev::DecodeOrderRequest(Request(u, R"({"a":1,"burger":1001})")),
                 Kind::kSchemaViolation, "/items/burger: maximum 1000");
    RequireError(ev::DecodeOrderRequest(Request(u, R"({"a":-5})")), Kind::kSchemaViolation,
                 "minimum");
    RequireError(ev::DecodeOrderRequest(Request(u, R"({"a":1.5})")), Kind::kSchemaViolation,
                 "/items/a: type \"integer\"");
    RequireError(ev::DecodeOrderRequest(Request(u, R"({"a":"1"})")), Kind::kSchemaViolation,
                 "/items/a: type \"integer\"");
    RequireError(ev::DecodeOrderRequest(Request(u, R"({"a":null})")), Kind::kSchemaViolation,
                 "type");
    RequireError(ev::DecodeOrderRequest(Request(u, R"({"a":18446744073709551615})")),
                 Kind::kSchemaViolation, "maximum");
    RequireError(ev::DecodeOrderRequest(Request(u, R"({"a":123456789012345678901234567890})")),
                 Kind::kSchemaViolation, "type");
}

TEST_CASE("an order request rejects unknown fields and bodies that are not objects") {
    RequireError(ev::DecodeOrderRequest(R"({"user_id":"u","items":{"a":1},"coupon":"x"})"),
                 Kind::kSchemaViolation, "/coupon: additionalProperties");
    for (const std::string body : {"[]", "\"order\"", "1", "null", "true"}) {
        INFO(body);
        RequireError(ev::DecodeOrderRequest(body), Kind::kSchemaViolation, "(root): type");
    }
    RequireError(ev::DecodeOrderRequest(R"({"user_id":"u","items":{"a":1})"), Kind::kNotJson,
                 "Invalid JSON at offset 30");
    RequireError(ev::DecodeOrderRequest(""), Kind::kNotJson, "offset 0");
    RequireError(ev::DecodeOrderRequest("user_id=u"), Kind::kNotJson, "Invalid value");
}

TEST_CASE("events ignore unknown fields, at the top and inside items") {
    const auto decoded = ev::DecodeOrderPlaced(
        OrderPlacedBody(R"([{"sku":"burger","quantity":1,"note":"no onions"}])",
                        R"(,"channel":{"app":"ios","v":[1,2,{"x":null}]})"));
    REQUIRE(decoded.has_value());
    CHECK(decoded->items == std::vector<ev::Item>{{"burger", 1}});
}

TEST_CASE("an unknown schema_version is kUnknownVersion even when the v1 schema would fail") {
    RequireError(ev::DecodeOrderPlaced(OrderPlacedBody("[]", "", "2")), Kind::kUnknownVersion,
                 "schema_version 2");
    RequireError(ev::DecodeEnvelope(OrderPlacedBody("[]", "", "0")), Kind::kUnknownVersion, "0");
    RequireError(ev::DecodeOrderPlaced(OrderPlacedBody("[]", "", "-1")), Kind::kUnknownVersion,
                 "-1");
    RequireError(
        ev::Validate(ev::EventType::kOrderPlaced,
                     OrderPlacedBody(R"([{"sku":"a","quantity":1}])", "", "99999999999999999999")),
        Kind::kSchemaViolation, "/schema_version: type");
    RequireError(
        ev::DecodeOrderPlaced(OrderPlacedBody(R"([{"sku":"a","quantity":1}])", "", "\"1\"")),
        Kind::kSchemaViolation, "/schema_version: type \"integer\"");
}

TEST_CASE("a missing or unknown event_type is kUnknownType") {
    RequireError(ev::DecodeOrderPlaced(OrderPlacedBody("[]", "", "1", "OrderShipped")),
                 Kind::kUnknownType, "unknown event_type \"OrderShipped\"");
    RequireError(ev::DecodeEnvelope(R"({"schema_version":1})"), Kind::kUnknownType,
                 "missing event_type");
    RequireError(ev::DecodeEnvelope(R"({"event_type":7})"), Kind::kUnknownType, "not a string");
    RequireError(ev::DecodeEnvelope("[1]"), Kind::kSchemaViolation, "(root): type");
    RequireError(ev::DecodeEnvelope("{"), Kind::kNotJson, "offset 1");
}

TEST_CASE("a decoder given another event type answers kUnknownType naming both") {
    const ev::InventoryReserved reserved{MakeEnvelope(ev::EventType::kInventoryReserved), "u",
                                         TwoItems()};
    RequireError(ev::DecodeOrderPlaced(ev::Encode(reserved)), Kind::kUnknownType,
                 "expected OrderPlaced, got InventoryReserved");
    RequireError(ev::DecodeInventoryEvent(OrderPlacedBody()), Kind::kUnknownType,
                 "expected InventoryReserved or InventoryRejected, got OrderPlaced");
    RequireError(ev::DecodeNotificationSent(OrderPlacedBody()), Kind::kUnknownType,
                 "got OrderPlaced");
    RequireError(ev::Validate(ev::EventType::kInventoryReserved, OrderPlacedBody()),
                 Kind::kUnknownType, "expected InventoryReserved");
}

TEST_CASE("event schema violations name the JSON pointer and the broken limit") {
    using ev::DecodeOrderPlaced;
    const auto item = [](const std::string& q) {
        return R"([{"sku":"burger","quantity":)" + q + "}]";
    };
    RequireError(DecodeOrderPlaced(OrderPlacedBody(item("1001"))), Kind::kSchemaViolation,
                 "/items/0/quantity: maximum 1000");
    RequireError(DecodeOrderPlaced(OrderPlacedBody(item("0"))), Kind::kSchemaViolation,
                 "/items/0/quantity: minimum 1");
    RequireError(DecodeOrderPlaced(OrderPlacedBody(item("1.5"))), Kind::kSchemaViolation,
                 "/items/0/quantity: type");
    RequireError(DecodeOrderPlaced(OrderPlacedBody(item("\"1\""))), Kind::kSchemaViolation,
                 "/items/0/quantity: type");
    RequireError(DecodeOrderPlaced(OrderPlacedBody(R"([{"sku":"bad sku","quantity":1}])")),
                 Kind::kSchemaViolation, "/items/0/sku: pattern");
    RequireError(DecodeOrderPlaced(OrderPlacedBody(R"([{"sku":"a\u0000","quantity":1}])")),
                 Kind::kSchemaViolation, "/items/0/sku: pattern");
    RequireError(DecodeOrderPlaced(OrderPlacedBody(R"([{"quantity":1}])")), Kind::kSchemaViolation,
                 "/items/0: required (missing \"sku\")");
    RequireError(DecodeOrderPlaced(OrderPlacedBody("[]")), Kind::kSchemaViolation,
                 "/items: minItems 1");
    std::string many = "[";
    for (int i = 0; i < 101; ++i) many += std::string(i ? "," : "") + R"({"sku":"a","quantity":1})";
    RequireError(DecodeOrderPlaced(OrderPlacedBody(many + "]")), Kind::kSchemaViolation,
                 "/items: maxItems 100");
}

TEST_CASE("event envelopes need a UUID event_id and order_id and a real RFC 3339 time") {
    std::string body = OrderPlacedBody();
    const auto replace = [](std::string text, const std::string& from, const std::string& to) {
        return text.replace(text.find(from), from.size(), to);
    };
    RequireError(ev::DecodeOrderPlaced(replace(body, kEventId, "not-a-uuid")),
                 Kind::kSchemaViolation, "/event_id: pattern");
    RequireError(ev::DecodeOrderPlaced(replace(body, kOrderId, "42")), Kind::kSchemaViolation,
                 "/order_id: pattern");
    RequireError(ev::DecodeOrderPlaced(replace(body, kAt, "yesterday")), Kind::kSchemaViolation,
                 "/occurred_at: pattern");
    RequireError(ev::DecodeOrderPlaced(replace(body, kAt, "2026-13-45T99:99:99Z")),
                 Kind::kSchemaViolation, "/occurred_at: format");
    RequireError(
        ev::DecodeOrderPlaced(replace(body, R"("event_id":")" + std::string(kEventId) + "\",", "")),
        Kind::kSchemaViolation, "(root): required (missing \"event_id\")");
    CHECK(ev::DecodeOrderPlaced(replace(body, kAt, "2026-11-21T13:00:00.123456+01:00")));
}

TEST_CASE("reason_code and outcome must be one of the SPEC's values") {
    const ev::InventoryRejected rejected{MakeEnvelope(ev::EventType::kInventoryRejected), "u",
                                         TwoItems(), ev::RejectReason::kUnknownSku, "no"};
    std::string body = ev::Encode(rejected);
    body.replace(body.find("UNKNOWN_SKU"), 11, "ON_FIRE");
    RequireError(ev::DecodeInventoryEvent(body), Kind::kSchemaViolation, "/reason_code: enum");
    const ev::NotificationSent sent{MakeEnvelope(ev::EventType::kNotificationSent), "u",
                                    ev::NotificationOutcome::kConfirmed, "ok"};
    body = ev::Encode(sent);
    body.replace(body.find("confirmed"), 9, "maybe");
    RequireError(ev::DecodeNotificationSent(body), Kind::kSchemaViolation, "/outcome: enum");
}

TEST_CASE("Validate refuses an encoded event that breaks its schema") {
    ev::OrderPlaced event{MakeEnvelope(ev::EventType::kOrderPlaced), "", TwoItems()};
    RequireError(ev::Validate(ev::EventType::kOrderPlaced, ev::Encode(event)),
                 Kind::kSchemaViolation, "/user_id: minLength");
    event.user_id = "u";
    event.envelope.occurred_at = "";
    RequireError(ev::Validate(ev::EventType::kOrderPlaced, ev::Encode(event)),
                 Kind::kSchemaViolation, "/occurred_at");
    event.envelope.occurred_at = kAt;
    event.envelope.schema_version = 2;
    RequireError(ev::Validate(ev::EventType::kOrderPlaced, ev::Encode(event)),
                 Kind::kUnknownVersion, "2");
}

TEST_CASE("EncodeChecked accepts exactly what Validate of Encode accepts, with its errors") {
    // EncodeChecked validates while it writes, with no parse; it must be neither weaker nor
    // stricter than Validate, which the consumers' decoders share.
    using Change = std::function<void(ev::OrderPlaced&)>;
    const std::vector<std::pair<std::string, Change>> changes = {
        {"valid", [](ev::OrderPlaced&) {}},
        {"non-ASCII user", [](ev::OrderPlaced& e) { e.user_id = "Zoë 🍔"; }},
        {"empty user", [](ev::OrderPlaced& e) { e.user_id = ""; }},
        {"user of 129", [](ev::OrderPlaced& e) { e.user_id = std::string(129, 'u'); }},
        {"user not UTF-8", [](ev::OrderPlaced& e) { e.user_id = "bad\xff"; }},
        {"user cut in a sequence", [](ev::OrderPlaced& e) { e.user_id = "Zo\xc3"; }},
        {"user with a surrogate",
         [](ev::OrderPlaced& e) {
             e.user_id =
                 "a\xed\xa0\x80"
                 "b";
         }},
        {"event_id not a UUID", [](ev::OrderPlaced& e) { e.envelope.event_id = "not-a-uuid"; }},
        {"order_id empty", [](ev::OrderPlaced& e) { e.envelope.order_id = ""; }},
        {"no such time",
         [](ev::OrderPlaced& e) { e.envelope.occurred_at = "2026-13-45T99:99:99Z"; }},
        {"not a time", [](ev::OrderPlaced& e) { e.envelope.occurred_at = "yesterday"; }},
        {"version 2", [](ev::OrderPlaced& e) { e.envelope.schema_version = 2; }},
        {"no items", [](ev::OrderPlaced& e) { e.items.clear(); }},
        {"101 items",
         [](ev::OrderPlaced& e) {
             e.items.assign(101, ev::Item{"burger", 1});
         }},
        {"100 items",
         [](ev::OrderPlaced& e) {
             e.items.assign(100, ev::Item{"burger", 1});
         }},
        {"quantity 0", [](ev::OrderPlaced& e) { e.items[0].quantity = 0; }},
        {"quantity 1001", [](ev::OrderPlaced& e) { e.items[1].quantity = 1001; }},
        {"bad sku", [](ev::OrderPlaced& e) { e.items[0].sku = "no spaces!"; }},
        {"sku with NUL", [](ev::OrderPlaced& e) { e.items[0].sku = std::string("bur\0ger", 7); }},
    };
    int refused = 0;
    for (const auto& [name, change] : changes) {
        INFO(name);
        ev::OrderPlaced event{MakeEnvelope(ev::EventType::kOrderPlaced), "user1", TwoItems()};
        change(event);
        const auto checked = ev::EncodeChecked(event);
        const auto plain = ev::Encode(event);
        const auto validated = ev::Validate(ev::EventType::kOrderPlaced, plain);
        REQUIRE(checked.has_value() == validated.has_value());
        if (checked) {
            CHECK(*checked == plain);
        } else {
            ++refused;
            CHECK(ev::KindName(checked.error().kind) == ev::KindName(validated.error().kind));
            CHECK(checked.error().message == validated.error().message);
        }
    }
    CHECK(refused == 16);

    // The other event types: valid ones encode as Encode does; a broken one is refused.
    ev::InventoryRejected rejected{MakeEnvelope(ev::EventType::kInventoryRejected), "user1",
                                   TwoItems(), ev::RejectReason::kOutOfStock, "Out of 'burger'"};
    REQUIRE(ev::EncodeChecked(ev::InventoryEvent{rejected}) == ev::Encode(rejected));
    rejected.reason = "";
    CHECK(ev::EncodeChecked(rejected).has_value() ==
          ev::Validate(ev::EventType::kInventoryRejected, ev::Encode(rejected)).has_value());
    ev::NotificationSent sent{MakeEnvelope(ev::EventType::kNotificationSent), "user1",
                              ev::NotificationOutcome::kConfirmed, "Your order is confirmed"};
    REQUIRE(ev::EncodeChecked(sent) == ev::Encode(sent));
    sent.envelope.event_id = "x";
    CHECK_FALSE(ev::EncodeChecked(sent).has_value());
}
