// libFuzzer target: an event body from the bus, through every consumer's decoder. No input may
// crash one; what a decoder accepts must re-encode to a body that validates and decodes to the
// same encoding again (the codec is a fixpoint after one round), so a consumer never emits
// an event another consumer would treat as poison.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "events/codec.hpp"

namespace {

using namespace orderflow::events;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "invariant broken: %s: %s\n", what, detail.c_str());
    std::abort();
}

template <typename Event, typename Decode>
void RoundTrip(const Event& event, EventType type, Decode decode) {
    const auto encoded = Encode(event);
    if (auto valid = Validate(type, encoded); !valid) {
        Fail("re-encoded event does not validate", valid.error().message + " in " + encoded);
    }
    auto again = decode(encoded);
    if (!again) Fail("re-encoded event does not decode", again.error().message + " in " + encoded);
    if (Encode(*again) != encoded) Fail("round trip is not stable", encoded);
    auto envelope = DecodeEnvelope(encoded);
    if (!envelope || envelope->event_id != event.envelope.event_id) {
        Fail("envelope of a valid event", encoded);
    }
}

EventType TypeOf(const InventoryEvent& event) {
    return std::holds_alternative<InventoryReserved>(event) ? EventType::kInventoryReserved
                                                            : EventType::kInventoryRejected;
}

const Envelope& EnvelopeOf(const InventoryEvent& event) {
    return std::visit([](const auto& e) -> const Envelope& { return e.envelope; }, event);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    auto envelope = DecodeEnvelope(body);
    if (auto placed = DecodeOrderPlaced(body)) {
        if (!envelope) Fail("OrderPlaced without an envelope", std::string(body));
        RoundTrip(*placed, EventType::kOrderPlaced,
                  [](std::string_view b) { return DecodeOrderPlaced(b); });
    }
    if (auto inventory = DecodeInventoryEvent(body)) {
        if (!envelope) Fail("inventory event without an envelope", std::string(body));
        const auto encoded = Encode(*inventory);
        if (auto valid = Validate(TypeOf(*inventory), encoded); !valid) {
            Fail("re-encoded inventory event does not validate", valid.error().message);
        }
        auto again = DecodeInventoryEvent(encoded);
        if (!again || Encode(*again) != encoded) Fail("inventory round trip", encoded);
        if (EnvelopeOf(*again).order_id != EnvelopeOf(*inventory).order_id) {
            Fail("inventory order id", encoded);
        }
    }
    if (auto sent = DecodeNotificationSent(body)) {
        if (!envelope) Fail("NotificationSent without an envelope", std::string(body));
        RoundTrip(*sent, EventType::kNotificationSent,
                  [](std::string_view b) { return DecodeNotificationSent(b); });
    }
    return 0;
}
