// orderflowctl's pure parts: dead-letter records and replay copies, raw publishes, rates
// and renderings of `status`, and the management API's URL and response handling.
#include <catch2/catch.hpp>

#include "ctl/common.hpp"
#include "ctl/messages.hpp"
#include "ctl/mgmt_api.hpp"
#include "ctl/rates.hpp"
#include "ctl/status.hpp"

using namespace orderflow;
using namespace orderflow::ctl;
using namespace std::chrono_literals;

namespace {

broker::Delivery DeadLetter(const std::string& kind) {
    broker::Delivery d;
    d.delivery_tag = 7;
    d.exchange = broker::ExchangeName{"orders.dlx"};
    d.routing_key = broker::RoutingKey{"inventory.order-placed"};
    d.queue = broker::QueueName{"inventory.order-placed.dlq"};
    auto& p = d.properties;
    p.message_id = "m-1";
    p.correlation_id = "o-1";
    p.type = "OrderPlaced";
    p.app_id = "ingress";
    p.timestamp = 1700000000;
    p.headers = {{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                 {"x-error-kind", kind},
                 {"x-error", "schema violation"},
                 {"x-failed-queue", "inventory.order-placed"},
                 {"x-original-exchange", "orders"},
                 {"x-original-routing-key", "order.placed"},
                 {"x-attempts", int64_t{4}},
                 {"x-first-failed-at", "2026-11-21T12:00:00.000Z"},
                 {"x-failed-at", "2026-11-21T12:00:30.000Z"},
                 {"x-consumer", "inventory@host"},
                 {"x-last-error", "store busy"},
                 {"x-delivery-count", int64_t{2}},
                 {"x-death", broker::FieldArray{broker::FieldTable{{"count", int64_t{1}}}}}};
    d.body = R"({"event_id":"m-1"})";
    return d;
}

const auto kNow = events::FromUnixMillis(1'795'000'000'000);

}  // namespace

TEST_CASE("a queue argument names the work queue or its DLQ") {
    CHECK(ResolveQueue("inventory.order-placed")->dlq.value == "inventory.order-placed.dlq");
    CHECK(ResolveQueue("inventory.order-placed.dlq")->work.value == "inventory.order-placed");
    CHECK_FALSE(ResolveQueue(".dlq").has_value());
}

TEST_CASE("the replay copy is a fresh attempt that remembers its replays and origin") {
    auto letter = DeadLetter("exhausted");
    const auto copy = ReplayCopy(letter, broker::QueueName{"inventory.order-placed"});
    CHECK(copy.exchange.value.empty());
    CHECK(copy.routing_key.value == "inventory.order-placed");
    CHECK(copy.mandatory);
    CHECK(copy.body == letter.body);
    CHECK(copy.properties.message_id == "m-1");
    CHECK(copy.properties.correlation_id == "o-1");
    CHECK(copy.properties.type == "OrderPlaced");
    CHECK(copy.properties.timestamp == letter.properties.timestamp);
    const auto& h = copy.properties.headers;
    for (const char* gone :
         {"x-error-kind", "x-error", "x-failed-queue", "x-failed-at", "x-consumer", "x-last-error",
          "x-attempts", "x-death", "x-delivery-count"}) {
        INFO(gone);
        CHECK_FALSE(h.contains(gone));
    }
    CHECK(copy.properties.IntHeader("x-replay-count") == 1);
    CHECK(*copy.properties.Header("x-first-failed-at") == "2026-11-21T12:00:00.000Z");
    CHECK(*copy.properties.Header("x-original-routing-key") == "order.placed");
    CHECK(copy.properties.Header("traceparent") != nullptr);

    letter.properties.headers["x-replay-count"] = int64_t{3};
    CHECK(ReplayCopy(letter, broker::QueueName{"q"}).properties.IntHeader("x-replay-count") == 4);
}

TEST_CASE("a dead letter of the delivery limit has the broker's reason and origin") {
    broker::Delivery d;
    d.properties.headers = {
        {"x-first-death-reason", "delivery_limit"},
        {"x-death", broker::FieldArray{
                        broker::FieldTable{{"reason", "delivery_limit"},
                                           {"exchange", "orders"},
                                           {"routing-keys", broker::FieldArray{"order.placed"}}}}}};
    CHECK(KindOf(d.properties) == "delivery_limit");
    const auto copy = ReplayCopy(d, broker::QueueName{"inventory.order-placed"});
    CHECK(*copy.properties.Header("x-original-exchange") == "orders");
    CHECK(*copy.properties.Header("x-original-routing-key") == "order.placed");
    CHECK_FALSE(copy.properties.headers.contains("x-first-death-reason"));
    d.properties.headers.erase("x-first-death-reason");
    CHECK(KindOf(d.properties) == "delivery_limit");
    CHECK(KindOf(broker::Properties{}) == "unknown");
}

TEST_CASE("replay selection by message id and kind") {
    const auto poison = DeadLetter("poison");
    CHECK(Selected({}, poison));
    CHECK(Selected({.message_id = "m-1", .kind = "poison", .reason = std::nullopt}, poison));
    CHECK_FALSE(
        Selected({.message_id = "m-2", .kind = std::nullopt, .reason = std::nullopt}, poison));
    CHECK_FALSE(Selected({.message_id = std::nullopt, .kind = "exhausted", .reason = std::nullopt},
                         poison));
    // A console group: by the failure record's reason.
    CHECK(Selected({.message_id = std::nullopt, .kind = "poison", .reason = "schema violation"},
                   poison));
    CHECK_FALSE(
        Selected({.message_id = std::nullopt, .kind = "poison", .reason = "other"}, poison));
    CHECK(ReplayCountOf(poison.properties) == 0);
}

TEST_CASE("a body preview escapes what a terminal should not see and stops at 200 bytes") {
    CHECK(BodyPreview("a\nb\x01\\") == "a\\nb\\x01\\\\");
    const auto long_body = std::string(300, 'x');
    CHECK(BodyPreview(long_body) == std::string(200, 'x') + "... (300 bytes)");
}

TEST_CASE("a raw publish takes its properties from the event in the body") {
    RawPublish request;
    request.routing_key = "order.placed";
    request.body = R"({"event_id":"e-1","event_type":"OrderPlaced","order_id":"o-9"})";
    request.headers = {"x-demo=1"};
    const auto message = BuildRawMessage(request, kNow, [] { return std::string("new"); });
    REQUIRE(message);
    CHECK(message->exchange.value == "orders");
    CHECK(message->mandatory);
    CHECK(message->properties.message_id == "e-1");
    CHECK(message->properties.correlation_id == "o-9");
    CHECK(message->properties.type == "OrderPlaced");
    CHECK(message->properties.delivery_mode == 2);
    CHECK(message->properties.content_type == "application/json");
    CHECK(*message->properties.Header("x-demo") == "1");
    CHECK(events::ParseTraceparent(*message->properties.Header("traceparent")).has_value());

    request.body = "not json {";
    request.type = "Garbage";
    auto poison = BuildRawMessage(request, kNow, [] { return std::string("new"); });
    CHECK(poison->properties.message_id == "new");
    CHECK(poison->properties.type == "Garbage");
    CHECK(poison->body == "not json {");
    request.no_message_id = true;
    CHECK(BuildRawMessage(request, kNow, [] {
              return std::string("new");
          })->properties.message_id.empty());
    request.headers = {"novalue"};
    CHECK_FALSE(BuildRawMessage(request, kNow, [] { return std::string("new"); }).has_value());
}

TEST_CASE("rates follow counters that the broker updates every 5 s, not each 1 s read") {
    RateTracker tracker;
    const auto start = std::chrono::steady_clock::time_point{} + 1000s;
    const Rates broker_rate{42, 43};
    // First reading: only the broker's own rate is known.
    CHECK(tracker.Update(start, {0, 0}, broker_rate).publish == 42);
    Rates last;
    // 100/s in, 150/s out, emitted every 5 s, read every second.
    for (int s = 1; s <= 30; ++s) {
        const int64_t emitted = (s / 5) * 5;
        last = tracker.Update(start + std::chrono::seconds(s), {emitted * 100, emitted * 150},
                              broker_rate);
        if (s < 10) continue;  // two changes are needed
        INFO(s);
        CHECK(last.publish == Approx(100).epsilon(0.01));
        CHECK(last.deliver == Approx(150).epsilon(0.01));
    }
    // Nothing moves any more: after kStaleAfter the rate is zero.
    last = tracker.Update(start + 50s, {3000, 4500}, broker_rate);
    CHECK(last.publish == 0);
    CHECK(last.deliver == 0);
    // Counters going backwards (queue recreated): start over with the broker's rate.
    CHECK(tracker.Update(start + 51s, {10, 10}, broker_rate).deliver == 43);
}

TEST_CASE("the time to drain needs a positive net drain rate") {
    CHECK(EtaSeconds(0, {}) == 0.0);
    CHECK(EtaSeconds(100, {.publish = 10, .deliver = 30}) == 5.0);
    CHECK_FALSE(EtaSeconds(100, {.publish = 30, .deliver = 30}).has_value());
    CHECK(FormatEta(std::nullopt) == "-");
    CHECK(FormatEta(4.2) == "5s");
    CHECK(FormatEta(125) == "2m05s");
    CHECK(FormatEta(3720) == "1h02m");
}

TEST_CASE("the time to drain follows the exact depth trend, not the lagging counters") {
    const auto start = std::chrono::steady_clock::time_point{} + 1000s;
    DepthTrend trend;
    CHECK_FALSE(trend.Update(start, 40).has_value());
    CHECK(*trend.Update(start + 500ms, 35) == Approx(-10));
    CHECK(*trend.Update(start + 1000ms, 30) == Approx(-10));
    // Only the last 5 s count: an old plateau does not dilute a drain that started since.
    DepthTrend later;
    later.Update(start, 30);
    later.Update(start + 10s, 30);
    CHECK(*later.Update(start + 11s, 20) == Approx(-10));

    QueueStatus queue;
    queue.ready = 30;
    queue.rates = {.publish = 0, .deliver = 0};  // the management API has not caught up yet
    queue.net_rate = -10;
    CHECK(*EstimateEta(queue) == Approx(3));
    queue.net_rate = 4;  // filling
    CHECK_FALSE(EstimateEta(queue).has_value());
    queue.ready = 0;  // everything in the consumer's prefetch: only the counters can tell
    queue.unacked = 20;
    queue.rates = {.publish = 0, .deliver = 5};
    CHECK(*EstimateEta(queue) == Approx(4));
    queue.detailed = false;
    CHECK_FALSE(EstimateEta(queue).has_value());
}

TEST_CASE("status parses the management queue list and renders json, lines and bars") {
    const auto parsed = ParseMgmtQueues(
        R"([{"name":"inventory.order-placed","messages":130,"messages_ready":120,
             "messages_unacknowledged":10,"consumers":1,
             "message_stats":{"publish":500,"publish_details":{"rate":2.5},
                              "deliver_get":400,"deliver_get_details":{"rate":7.5}}},
            {"name":"orders.events","messages":9000}, 17])");
    REQUIRE(parsed);
    REQUIRE(parsed->size() == 2);
    CHECK((*parsed)[0].unacked == 10);
    CHECK((*parsed)[0].counters.deliver == 400);
    CHECK((*parsed)[0].rates.deliver == 7.5);
    CHECK_FALSE(ParseMgmtQueues("<html>").has_value());

    StatusSnapshot snapshot;
    snapshot.at = kNow;
    QueueStatus queue;
    queue.name = "inventory.order-placed";
    queue.ready = 120;
    queue.unacked = 10;
    queue.consumers = 1;
    queue.rates = {2.5, 7.5};
    queue.eta_seconds = EtaSeconds(queue.Backlog(), queue.rates);
    snapshot.queues.push_back(queue);
    snapshot.stream.broker_messages = 9000;

    const auto json = RenderJson(snapshot);
    CHECK(json.find(R"("name":"inventory.order-placed")") != std::string::npos);
    CHECK(json.find(R"("ready":120,"unacked":10,"consumers":1,"dlq_ready":0,"retry_ready":0)") !=
          std::string::npos);
    CHECK(json.find(R"("eta_seconds":26.0)") != std::string::npos);
    const auto lines = RenderLines(snapshot);
    CHECK(lines.find(events::FormatTime(kNow) +
                     " queue=inventory.order-placed ready=120 unacked=10 consumers=1 dlq=0 retry=0 "
                     "publish_rate=2.5 deliver_rate=7.5 net_rate=- eta_s=26\n") == 0);
    CHECK(lines.find("stream=orders.events messages=9000") != std::string::npos);
    const auto frame = RenderFrame(snapshot, 260, "title");
    CHECK(frame.find("|" + std::string(20, '#') + std::string(20, ' ') + "| 130") !=
          std::string::npos);
    CHECK(RenderTable(snapshot).find("26s") != std::string::npos);

    // Without the management API: depths still shown, unacked and rates unknown, not zero.
    snapshot.queues[0].detailed = false;
    snapshot.queues[0].eta_seconds.reset();
    snapshot.warnings = {"management API down"};
    const auto partial = RenderJson(snapshot);
    CHECK(partial.find(R"("ready":120,"unacked":null,"consumers":1)") != std::string::npos);
    CHECK(partial.find(
              R"("publish_rate":null,"deliver_rate":null,"net_rate":null,"eta_seconds":null)") !=
          std::string::npos);
    CHECK(partial.find(R"("warnings":["management API down"])") != std::string::npos);
    const auto partial_lines = RenderLines(snapshot);
    CHECK(partial_lines.find("ready=120 unacked=- consumers=1") != std::string::npos);
    CHECK(partial_lines.find("publish_rate=- deliver_rate=- net_rate=- eta_s=-") !=
          std::string::npos);
}

TEST_CASE("management URLs, vhosts and responses") {
    const auto url = ParseHttpUrl("http://guest:pa%40ss@127.0.0.1:15792/prefix/");
    REQUIRE(url);
    CHECK(url->host == "127.0.0.1");
    CHECK(url->port == 15792);
    CHECK(url->password == "pa@ss");
    CHECK(url->base_path == "/prefix");
    CHECK(ParseHttpUrl("http://localhost")->port == 80);
    CHECK(ParseHttpUrl("https://x")->tls);
    CHECK(ParseHttpUrl("https://x")->port == 443);
    CHECK_FALSE(ParseHttpUrl("ftp://x").has_value());
    CHECK_FALSE(ParseHttpUrl("http://h:99999").has_value());
    CHECK(VhostOf("amqp://guest:guest@127.0.0.1:5672/%2f") == "/");
    CHECK(VhostOf("amqp://127.0.0.1") == "/");
    CHECK(VhostOf("amqp://h/it-123") == "it-123");
    CHECK(PercentEncode("/") == "%2F");
    CHECK(Base64("guest:guest") == "Z3Vlc3Q6Z3Vlc3Q=");
    CHECK(Base64("ab") == "YWI=");
    CHECK(RedactUrl("amqp://guest:secret@h:5672/%2f") == "amqp://guest:***@h:5672/%2f");
    CHECK(RedactUrl("amqp://h/%2f") == "amqp://h/%2f");

    const auto chunked = ParseHttpResponse(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n");
    REQUIRE(chunked);
    CHECK(chunked->body == "[1,2]");
    const auto sized =
        ParseHttpResponse("HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\nnoXX");
    REQUIRE(sized);
    CHECK(sized->status == 401);
    CHECK(sized->reason == "Unauthorized");
    CHECK(sized->body == "no");
    CHECK_FALSE(ParseHttpResponse("garbage").has_value());
}

TEST_CASE(
    "status derives the out rate of a drain from the exact depth when the counters stand still",
    "[ctl]") {
    QueueStatus queue;
    queue.name = "inventory.order-placed";
    queue.ready = 12000;
    queue.unacked = 200;
    queue.rates = {0.0, 0.0};  // the management counters have not moved
    queue.net_rate = -4000.0;  // the exact ready depth falls by 4,000/s
    ApplyExactDepth(queue, 12000);
    CHECK(queue.rates.deliver == Approx(4000.0));
    CHECK(queue.deliver_derived);
    CHECK_FALSE(queue.unacked_stale);
    // Filling with nothing going out: no out rate is invented.
    QueueStatus filling;
    filling.rates = {100.0, 0.0};
    filling.net_rate = 100.0;
    ApplyExactDepth(filling, 0);
    CHECK(filling.rates.deliver == Approx(0.0));
    CHECK_FALSE(filling.deliver_derived);
}

TEST_CASE("status flags an unacked count whose management record lags the exact depth", "[ctl]") {
    StatusSnapshot snapshot;
    snapshot.at = events::FromUnixMillis(1'800'000'000'000);
    QueueStatus queue;
    queue.name = "inventory.order-placed";
    queue.ready = 0;  // exact: the queue is empty
    queue.unacked = 200;
    queue.consumers = 1;
    ApplyExactDepth(queue, 5000);  // the record still says 5,000 ready
    CHECK(queue.unacked_stale);
    snapshot.queues.push_back(queue);
    CHECK(RenderTable(snapshot).find(" 200? ") != std::string::npos);
    CHECK(RenderTable(snapshot).find("?: unacked as of the management API's last record") !=
          std::string::npos);
    CHECK(RenderJson(snapshot).find(R"("unacked_stale":true)") != std::string::npos);
    CHECK(RenderLines(snapshot).find("unacked=200 unacked_stale=true") != std::string::npos);
}

TEST_CASE("status counts a stream read from its offsets and flags the broker's differing count",
          "[ctl]") {
    StatusSnapshot snapshot;
    snapshot.stream.broker_messages = 0;  // what RabbitMQ 3.10 can say of a full stream
    snapshot.stream.read = true;
    snapshot.stream.first_offset = 100;
    snapshot.stream.last_offset = 4099;
    CHECK(snapshot.stream.Messages() == 4000);
    CHECK(snapshot.stream.BrokerStale());
    CHECK(RenderTable(snapshot).find("stream orders.events: 4000 messages (offsets 100-4099, read "
                                     "from the stream; the management API's count, 0, is stale)") !=
          std::string::npos);
    CHECK(RenderJson(snapshot).find(
              R"("stream":{"name":"orders.events","messages":4000,"source":"stream",)"
              R"("first_offset":100,"last_offset":4099,"broker_messages":0,)"
              R"("broker_messages_stale":true})") != std::string::npos);
    CHECK(RenderLines(snapshot).find("stream=orders.events messages=4000 source=stream "
                                     "first_offset=100 last_offset=4099 broker_messages=0 "
                                     "broker_stale=true") != std::string::npos);
    // An empty stream, read: 0, and the broker agreeing is not stale.
    snapshot.stream.first_offset.reset();
    snapshot.stream.last_offset.reset();
    CHECK(snapshot.stream.Messages() == 0);
    CHECK_FALSE(snapshot.stream.BrokerStale());
    // Not read (no permission, say): the broker's count, said to be such.
    snapshot.stream = {};
    snapshot.stream.broker_messages = 12;
    CHECK(RenderTable(snapshot).find("12 messages (the management API's count") !=
          std::string::npos);
}
