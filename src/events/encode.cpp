// Encoding of events to compact JSON, fields in the order of the SPEC's example, so bodies are
// easy to read in the DLQ and in logs. EncodeChecked writes the same calls through the schema
// validator, which forwards them to the writer: the body is validated with no parse.
#include <type_traits>
#include <variant>

#include "events/codec.hpp"
#include "events/ids.hpp"
#include "events/impl/json_document.hpp"
#include "events/impl/rapidjson.hpp"
#include "events/impl/schema_registry.hpp"

namespace orderflow::events {
namespace {

using StringWriter = rapidjson::Writer<rapidjson::StringBuffer>;
using ForwardingValidator = rapidjson::GenericSchemaValidator<impl::SchemaDocument, StringWriter>;

rapidjson::SizeType Size(std::string_view text) {
    return static_cast<rapidjson::SizeType>(text.size());
}

// Whether `text` is UTF-8 as the parse of Validate judges it (RapidJSON's own check, one code
// point at a time), with ASCII, nearly every string, decided at once.
bool IsUtf8(std::string_view text) {
    if (impl::IsAscii(text)) return true;
    struct Discard {
        void Put(char) {}
    } discard;
    rapidjson::MemoryStream stream(text.data(), text.size());
    while (stream.Tell() < text.size()) {
        if (!rapidjson::UTF8<>::Validate(stream, discard)) return false;
    }
    return true;
}

// Makes the SAX calls of one event body on `Out` (a writer, or a validator forwarding to one),
// with the member counts a validator needs. Stops at the first call `Out` refuses.
template <class Out>
class BodyWriter final {
  public:
    explicit BodyWriter(Out& out) : out_(out) {
        Call([&] { return out_.StartObject(); });
    }

    void Field(std::string_view name, std::string_view value) {
        Key(name);
        Call([&] {
            // Checked only when validating: the plain writer copies bytes as they are.
            if (kValidating && !IsUtf8(value)) return false;
            return out_.String(value.data(), Size(value), false);
        });
    }

    void Field(std::string_view name, int value) {
        Key(name);
        Call([&] { return out_.Int(value); });
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
        Call([&] { return out_.StartArray(); });
        ++depth_;
        for (const auto& item : items) {
            Call([&] { return out_.StartObject(); });
            ++depth_;
            Field("sku", item.sku);
            Field("quantity", item.quantity);
            --depth_;
            Call([&] { return out_.EndObject(2); });
        }
        --depth_;
        Call([&] { return out_.EndArray(static_cast<rapidjson::SizeType>(items.size())); });
    }

    bool Finish() {
        Call([&] { return out_.EndObject(members_); });
        return ok_;
    }

  private:
    static constexpr bool kValidating = std::is_same_v<Out, ForwardingValidator>;

    template <class F>
    void Call(F&& call) {
        ok_ = ok_ && call();
    }

    void Key(std::string_view name) {
        if (depth_ == 0) ++members_;
        Call([&] { return out_.Key(name.data(), Size(name), false); });
    }

    Out& out_;
    bool ok_ = true;
    int depth_ = 0;  // 0: the top-level object's members
    rapidjson::SizeType members_ = 0;
};

template <class Out>
void WriteFields(BodyWriter<Out>& body, const OrderPlaced& event) {
    body.WriteEnvelope(event.envelope, EventType::kOrderPlaced);
    body.Field("user_id", event.user_id);
    body.WriteItems(event.items);
}

template <class Out>
void WriteFields(BodyWriter<Out>& body, const InventoryReserved& event) {
    body.WriteEnvelope(event.envelope, EventType::kInventoryReserved);
    body.Field("user_id", event.user_id);
    body.WriteItems(event.items);
}

template <class Out>
void WriteFields(BodyWriter<Out>& body, const InventoryRejected& event) {
    body.WriteEnvelope(event.envelope, EventType::kInventoryRejected);
    body.Field("user_id", event.user_id);
    body.WriteItems(event.items);
    body.Field("reason_code", ReasonCode(event.reason_code));
    body.Field("reason", event.reason);
}

template <class Out>
void WriteFields(BodyWriter<Out>& body, const NotificationSent& event) {
    body.WriteEnvelope(event.envelope, EventType::kNotificationSent);
    body.Field("user_id", event.user_id);
    body.Field("outcome", OutcomeName(event.outcome));
    body.Field("message", event.message);
}

template <class Event>
std::string EncodeEvent(const Event& event) {
    rapidjson::StringBuffer buffer;
    StringWriter writer(buffer);
    BodyWriter<StringWriter> body(writer);
    WriteFields(body, event);
    body.Finish();
    return {buffer.GetString(), buffer.GetSize()};
}

// What Validate checks beyond the schema: the version CheckEvent accepts, and a real time
// (ReadEnvelope). The type is the struct's own.
template <class Event>
std::expected<std::string, DecodeError> EncodeEventChecked(const Event& event, EventType type) {
    rapidjson::StringBuffer buffer;
    StringWriter writer(buffer);
    ForwardingValidator validator(impl::Compiled(impl::SchemaFor(type)), writer);
    BodyWriter<ForwardingValidator> body(validator);
    WriteFields(body, event);
    if (body.Finish() && validator.IsValid() && event.envelope.schema_version == kSchemaVersion &&
        ParseTime(event.envelope.occurred_at)) {
        return std::string(buffer.GetString(), buffer.GetSize());
    }
    // Refused (a handler bug, or bad input that got this far): Validate of the plain encoding
    // says why, in the words a consumer would use.
    if (auto valid = Validate(type, EncodeEvent(event)); !valid) {
        return std::unexpected(valid.error());
    }
    return std::unexpected(DecodeError{DecodeError::Kind::kSchemaViolation,
                                       "the event does not validate against its schema"});
}

}  // namespace

std::string Encode(const OrderPlaced& event) { return EncodeEvent(event); }
std::string Encode(const InventoryReserved& event) { return EncodeEvent(event); }
std::string Encode(const InventoryRejected& event) { return EncodeEvent(event); }
std::string Encode(const NotificationSent& event) { return EncodeEvent(event); }

std::string Encode(const InventoryEvent& event) {
    return std::visit([](const auto& alternative) { return Encode(alternative); }, event);
}

std::expected<std::string, DecodeError> EncodeChecked(const OrderPlaced& event) {
    return EncodeEventChecked(event, EventType::kOrderPlaced);
}
std::expected<std::string, DecodeError> EncodeChecked(const InventoryReserved& event) {
    return EncodeEventChecked(event, EventType::kInventoryReserved);
}
std::expected<std::string, DecodeError> EncodeChecked(const InventoryRejected& event) {
    return EncodeEventChecked(event, EventType::kInventoryRejected);
}
std::expected<std::string, DecodeError> EncodeChecked(const NotificationSent& event) {
    return EncodeEventChecked(event, EventType::kNotificationSent);
}

std::expected<std::string, DecodeError> EncodeChecked(const InventoryEvent& event) {
    return std::visit([](const auto& alternative) { return EncodeChecked(alternative); }, event);
}

}  // namespace orderflow::events
