// `orderflowctl broker-bench --as-ingress` is the fair ceiling of POST /orders only if each
// message is what the ingress publishes (SPEC section 4): checked here without a broker.
#include <catch2/catch.hpp>
#include <string>

#include "events/codec.hpp"
#include "events/ids.hpp"
#include "load/broker_bench.hpp"

using namespace orderflow;

TEST_CASE("broker-bench as-ingress messages carry an OrderPlaced with the ingress's properties",
          "[load]") {
    const auto message = load::IngressStyleMessage(7);
    // The body is a valid OrderPlaced, as the consumers would accept it.
    REQUIRE(events::Validate(events::EventType::kOrderPlaced, message.body));
    const auto order = events::DecodeOrderPlaced(message.body);
    REQUIRE(order);
    CHECK(order->user_id == "bench7");
    CHECK(events::IsUuid(order->envelope.event_id));
    CHECK(events::IsUuid(order->envelope.order_id));
    // The properties the ingress sets (the publisher fills in the timestamp).
    const auto& properties = message.properties;
    CHECK(properties.message_id == order->envelope.event_id);
    CHECK(properties.correlation_id == order->envelope.order_id);
    CHECK(properties.type == "OrderPlaced");
    CHECK(properties.app_id == "ingress");
    CHECK(properties.content_type == "application/json");
    CHECK(properties.delivery_mode == 2);
    const auto* traceparent = properties.Header("traceparent");
    REQUIRE(traceparent != nullptr);
    CHECK(events::ParseTraceparent(*traceparent));
    CHECK(message.mandatory);
}

TEST_CASE("broker-bench as-ingress messages are fresh events, one id each", "[load]") {
    const auto first = load::IngressStyleMessage(1);
    const auto second = load::IngressStyleMessage(2);
    CHECK(first.properties.message_id != second.properties.message_id);
    CHECK(first.properties.correlation_id != second.properties.correlation_id);
    CHECK(*first.properties.Header("traceparent") != *second.properties.Header("traceparent"));
    CHECK(first.body != second.body);
}
