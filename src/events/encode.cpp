// Encoding of events to compact JSON, fields in the order of the SPEC's example, so bodies are
// easy to read in the DLQ and in logs.
#include <variant>

#include "events/codec.hpp"
#include "events/impl/rapidjson.hpp"

namespace orderflow::events {
namespace {

class BodyWriter final {
  public:
    BodyWriter() : writer_(buffer_) { writer_.StartObject(); }

    void Field(std::string_view name, std::string_view value) {
        Key(name);
        writer_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    }

    void Field(std::string_view name, int value) {
        Key(name);
        writer_.Int(value);
    }

    // The event type comes from the struct being encoded, never from envelope.type, so the body
    // always matches the schema it will be validated against.
    void WriteEnvelope(const Envelope& envelope, EventType type) {
        Field("event_id", envelope.event_id);
        Field("event_type", TypeName(type));
        Field("schema_version", envelope.schema_version);
        Field("occurred_at", envelope.occurred_at);
        Field("order_id", envelope.order_id);
    }

    void WriteItems(const std::vector<Item>& items) {
        Key("items");
        writer_.StartArray();
        for (const auto& item : items) {
            writer_.StartObject();
            Field("sku", item.sku);
            Field("quantity", item.quantity);
            writer_.EndObject();
        }
        writer_.EndArray();
    }

    std::string Finish() {
        writer_.EndObject();
        return {buffer_.GetString(), buffer_.GetSize()};
    }

  private:
    void Key(std::string_view name) {
        writer_.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    }

    rapidjson::StringBuffer buffer_;
    rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

template <typename Event>
std::string EncodeOrderEvent(const Event& event, EventType type) {
    BodyWriter body;
    body.WriteEnvelope(event.envelope, type);
    body.Field("user_id", event.user_id);
    body.WriteItems(event.items);
    return body.Finish();
}

}  // namespace

std::string Encode(const OrderPlaced& event) {
    return EncodeOrderEvent(event, EventType::kOrderPlaced);
}

std::string Encode(const InventoryReserved& event) {
    return EncodeOrderEvent(event, EventType::kInventoryReserved);
}

std::string Encode(const InventoryRejected& event) {
    BodyWriter body;
    body.WriteEnvelope(event.envelope, EventType::kInventoryRejected);
    body.Field("user_id", event.user_id);
    body.WriteItems(event.items);
    body.Field("reason_code", ReasonCode(event.reason_code));
    body.Field("reason", event.reason);
    return body.Finish();
}

std::string Encode(const InventoryEvent& event) {
    return std::visit([](const auto& alternative) { return Encode(alternative); }, event);
}

std::string Encode(const NotificationSent& event) {
    BodyWriter body;
    body.WriteEnvelope(event.envelope, EventType::kNotificationSent);
    body.Field("user_id", event.user_id);
    body.Field("outcome", OutcomeName(event.outcome));
    body.Field("message", event.message);
    return body.Finish();
}

}  // namespace orderflow::events
