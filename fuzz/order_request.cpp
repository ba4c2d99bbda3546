// libFuzzer target: the body of POST /orders. DecodeOrderRequest must never crash or accept
// what SPEC section 4 forbids; an accepted request must form an OrderPlaced that validates
// against its schema and decodes back to the same user and items.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "events/codec.hpp"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "invariant broken: %s: %s\n", what, detail.c_str());
    std::abort();
}

bool ValidSku(const std::string& sku) {
    if (sku.empty() || sku.size() > 64) return false;
    for (const char c : sku) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace orderflow::events;
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    auto decoded = DecodeOrderRequest(body);
    if (!decoded) {
        if (decoded.error().message.empty()) Fail("error without a message", std::string(body));
        return 0;
    }
    // SPEC section 4 limits (user_id counted in characters, so at most 4 bytes each).
    if (decoded->user_id.empty() || decoded->user_id.size() > 4 * 128) {
        Fail("user_id length", decoded->user_id);
    }
    if (decoded->items.empty() || decoded->items.size() > 100)
        Fail("item count", std::string(body));
    for (const auto& item : decoded->items) {
        if (!ValidSku(item.sku)) Fail("sku", item.sku);
        if (item.quantity < 1 || item.quantity > 1000)
            Fail("quantity", std::to_string(item.quantity));
    }

    OrderPlaced order;
    order.envelope.event_id = "6f1c1f5e-3d2a-4b7e-9c1d-2a3b4c5d6e7f";
    order.envelope.order_id = "0b0f4a56-8d1e-4c3b-a2f1-9e8d7c6b5a40";
    order.envelope.occurred_at = "2026-11-21T12:00:00.000Z";
    order.user_id = decoded->user_id;
    order.items = decoded->items;
    const auto encoded = Encode(order);
    if (auto valid = Validate(EventType::kOrderPlaced, encoded); !valid) {
        Fail("accepted order does not validate", valid.error().message + " in " + encoded);
    }
    auto back = DecodeOrderPlaced(encoded);
    if (!back) Fail("encoded order does not decode", back.error().message + " in " + encoded);
    if (back->user_id != order.user_id || back->items != order.items) {
        Fail("round trip changed the order", encoded);
    }
    return 0;
}
