// What an operator sees: one trace id across every service's log lines and in dead letters,
// JSON log lines with the documented fields, and /metrics counters that follow the traffic.
#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "broker/client.hpp"
#include "broker/topology.hpp"
#include "support.hpp"

using namespace orderflow;
using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kTraceId = "0af7651916cd43dd8448eb211c80319c";
const std::string kTraceparent = std::string("00-") + kTraceId + "-b7ad6b7169203331-01";

std::vector<std::string> LinesWith(const std::string& log, const std::string& needle) {
    std::vector<std::string> lines;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
        if (line.find(needle) != std::string::npos) lines.push_back(line);
    }
    return lines;
}

// `count` orders of one salad each, by users `prefix`0, `prefix`1, ...; their order ids.
std::vector<std::string> PostSaladOrders(Pipeline& p, const std::string& prefix, int count) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
        const auto answer = PostOrder(p.ingress.Port(), prefix + std::to_string(i), {{"salad", 1}});
        REQUIRE(answer.status == 202);
        ids.push_back(JsonField(answer.body, "order_id"));
    }
    return ids;
}

}  // namespace

TEST_CASE("a client's traceparent is kept by the ingress and logged by all three services",
          "[observability]") {
    Pipeline p;
    p.StartAll();
    const auto answer =
        PostOrder(p.ingress.Port(), "traced", {{"burger", 1}}, {{"traceparent", kTraceparent}});
    REQUIRE(answer.status == 202);
    const auto order_id = JsonField(answer.body, "order_id");
    // The answer carries the trace on: same trace id, the ingress's own span.
    REQUIRE(answer.headers.count("traceparent") == 1);
    CHECK(answer.headers.at("traceparent").find(kTraceId) != std::string::npos);
    REQUIRE(Eventually([&] { return StatusOf(p.ingress.Port(), order_id) == "notified"; }, 30s));

    // Every line about this order, in every service, names the client's trace.
    for (const Service* service : {&p.ingress, &p.inventory, &p.notification}) {
        const auto lines = LinesWith(service->Log(), order_id);
        INFO(service->Log());
        REQUIRE_FALSE(lines.empty());
        for (const auto& line : lines) {
            // The test's own status polls (GET /orders/{id}) carry no traceparent: each is
            // a trace of its own, not part of the order's.
            if (line.find("method=GET") != std::string::npos) continue;
            CHECK(line.find(std::string("trace_id=") + kTraceId) != std::string::npos);
        }
    }
    // The ingress's request line has the trace too (it has no order id in it).
    CHECK_FALSE(LinesWith(p.ingress.Log(), std::string("path=/orders status=202")).empty());
    CHECK(LinesWith(p.ingress.Log(), kTraceId).size() >= 3);  // request, reserved, notified
    // The line a person reads.
    CHECK_FALSE(LinesWith(p.notification.Log(),
                          "Order " + order_id + " confirmed! Reserved items: burger: 1")
                    .empty());

    // Without a client traceparent the ingress starts a trace of its own, carried the same way.
    const auto untraced = PostOrder(p.ingress.Port(), "untraced", {{"fries", 1}});
    REQUIRE(untraced.status == 202);
    const auto untraced_id = JsonField(untraced.body, "order_id");
    REQUIRE(Eventually([&] { return StatusOf(p.ingress.Port(), untraced_id) == "notified"; }, 30s));
    const auto started = untraced.headers.at("traceparent").substr(3, 32);
    CHECK(started.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(started != std::string(32, '0'));
    CHECK_FALSE(LinesWith(p.notification.Log(), started).empty());
    CHECK_FALSE(LinesWith(p.inventory.Log(), started).empty());
}

TEST_CASE("JSON log lines carry service, event, order_id, message_id, outcome, latency and trace",
          "[observability]") {
    Pipeline p({{"ORDERFLOW_LOG_FORMAT", std::string("json")}});
    p.StartAll();
    const auto answer =
        PostOrder(p.ingress.Port(), "json", {{"pizza", 2}}, {{"traceparent", kTraceparent}});
    REQUIRE(answer.status == 202);
    const auto order_id = JsonField(answer.body, "order_id");
    REQUIRE(Eventually([&] { return StatusOf(p.ingress.Port(), order_id) == "notified"; }, 30s));

    for (const Service* service : {&p.inventory, &p.notification}) {
        const auto lines = LinesWith(service->Log(), order_id);
        REQUIRE_FALSE(lines.empty());
        for (const auto& line : lines) {
            INFO(line);
            rapidjson::Document doc;
            REQUIRE_FALSE(doc.Parse(line.c_str()).HasParseError());
            REQUIRE(doc.IsObject());
            for (const char* key : {"ts", "level", "service", "msg", "event", "order_id",
                                    "message_id", "outcome", "trace_id"}) {
                REQUIRE(doc.HasMember(key));
                CHECK(doc[key].IsString());
            }
            REQUIRE(doc.HasMember("latency_ms"));
            CHECK(doc["latency_ms"].IsNumber());
            CHECK(std::string(doc["trace_id"].GetString()) == kTraceId);
            CHECK(std::string(doc["order_id"].GetString()) == order_id);
        }
    }
    // Every line of the log, not only this order's, is one JSON object.
    std::istringstream in(p.ingress.Log());
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || !line.starts_with('{')) continue;  // the harness's own markers
        rapidjson::Document doc;
        INFO(line);
        CHECK_FALSE(doc.Parse(line.c_str()).HasParseError());
    }
}

TEST_CASE("a dead letter keeps the traceparent of the order it came from", "[observability]") {
    Pipeline p({{"ORDERFLOW_MAX_ATTEMPTS", "1"}}, {{"ORDERFLOW_INJECT_FAIL_RATE", "1"}});
    p.StartAll();
    const auto answer =
        PostOrder(p.ingress.Port(), "doomed", {{"soda", 1}}, {{"traceparent", kTraceparent}});
    REQUIRE(answer.status == 202);

    auto client = ConnectBroker(p.vhost);
    const broker::QueueName dlq{broker::DeadLetterQueue(broker::kInventoryQueue)};
    std::optional<broker::Delivery> dead;
    REQUIRE(Eventually(
        [&] {
            auto got = client.Get(dlq);
            if (got && got->has_value()) dead = std::move(**got);
            return dead.has_value();
        },
        30s, 200ms));
    const auto* traceparent = dead->properties.Header("traceparent");
    REQUIRE(traceparent != nullptr);
    CHECK(traceparent->find(kTraceId) != std::string::npos);
    CHECK(dead->properties.correlation_id == JsonField(answer.body, "order_id"));
    // The inventory's warning about it names the trace as well.
    const auto lines = LinesWith(p.inventory.Log(), "exhausted");
    REQUIRE_FALSE(lines.empty());
    CHECK(lines.back().find(kTraceId) != std::string::npos);
}

TEST_CASE("metrics counters follow the orders through every service", "[observability]") {
    Pipeline p;
    p.StartAll();
    const auto ingress_before = Scrape(p.ingress);
    const auto inventory_before = Scrape(p.inventory);
    const auto notification_before = Scrape(p.notification);

    constexpr int kOrders = 20;
    const auto ids = PostSaladOrders(p, "metrics", kOrders);
    // One request that fails validation, counted by status.
    REQUIRE(
        HttpCall("POST", p.ingress.Port(), "/orders", "{", {{"Content-Type", "application/json"}})
            .status == 400);
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), ids); }, 60s, 250ms));

    const auto ingress = Scrape(p.ingress);
    const auto inventory = Scrape(p.inventory);
    const auto notification = Scrape(p.notification);
    const auto moved = [](const std::string& before, const std::string& after,
                          const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& labels) {
        return Sample(after, name, labels) - Sample(before, name, labels);
    };

    CHECK(moved(ingress_before, ingress, "orderflow_http_requests_total",
                {{"route", "/orders"}, {"status", "202"}}) == kOrders);
    CHECK(moved(ingress_before, ingress, "orderflow_http_requests_total",
                {{"route", "/orders"}, {"status", "400"}}) == 1);
    CHECK(moved(ingress_before, ingress, "orderflow_http_request_duration_seconds_count",
                {{"route", "/orders"}}) >= kOrders + 1);
    CHECK(moved(ingress_before, ingress, "orderflow_messages_published_total",
                {{"outcome", "confirmed"}}) >= kOrders);
    // The ingress's projection consumes InventoryReserved and NotificationSent of each order.
    CHECK(moved(ingress_before, ingress, "orderflow_messages_consumed_total",
                {{"queue", "ingress.order-status"}}) == 2 * kOrders);

    CHECK(moved(inventory_before, inventory, "orderflow_messages_consumed_total",
                {{"queue", "inventory.order-placed"}, {"outcome", "processed"}}) == kOrders);
    CHECK(moved(inventory_before, inventory, "orderflow_messages_acked_total",
                {{"queue", "inventory.order-placed"}}) == kOrders);
    CHECK(moved(inventory_before, inventory, "orderflow_messages_published_total",
                {{"outcome", "confirmed"}}) == kOrders);
    // Confirmed rows are deleted by the next batch's transaction, or by the relay once they
    // waited OutboxRelay::kDeleteGrace (100 ms) for one: the outbox empties soon after.
    CHECK(Eventually([&] { return Sample(Scrape(p.inventory), "orderflow_outbox_depth") == 0; }, 5s,
                     50ms));
    CHECK(Sample(inventory, "orderflow_broker_connected") == 1);

    CHECK(moved(notification_before, notification, "orderflow_messages_consumed_total",
                {{"queue", "notification.inventory-events"}, {"outcome", "processed"}}) == kOrders);
    CHECK(moved(notification_before, notification, "orderflow_messages_published_total",
                {{"outcome", "confirmed"}}) == kOrders);
    // Prometheus text format: every family announced with HELP and TYPE.
    CHECK(inventory.find("# TYPE orderflow_messages_consumed_total counter") != std::string::npos);
    CHECK(ingress.find("# TYPE orderflow_http_request_duration_seconds histogram") !=
          std::string::npos);
}

TEST_CASE("an outbox relay with nothing to publish is not woken by every message consumed",
          "[observability]") {
    // A relay looks at its outbox when a batch added rows to it, and once a second. The
    // ingress's order-status projection emits nothing, so its relay must not run a round (two
    // queries on its store) for each of the two events an order sends back to the ingress.
    Pipeline p;
    p.StartAll();
    const auto ingress_before = Scrape(p.ingress);
    const auto inventory_before = Scrape(p.inventory);
    const auto start = std::chrono::steady_clock::now();
    constexpr int kOrders = 30;
    const auto ids = PostSaladOrders(p, "quiet", kOrders);
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), ids); }, 60s, 100ms));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto rounds = [](const std::string& before, const std::string& after) {
        return Sample(after, "orderflow_outbox_relay_rounds_total", {}) -
               Sample(before, "orderflow_outbox_relay_rounds_total", {});
    };
    // The ingress consumed 2 x 30 events: its relay ran once a second, and one round more
    // for the second under way at each end.
    const double ingress_rounds = rounds(ingress_before, Scrape(p.ingress));
    INFO("ingress relay rounds " << ingress_rounds << " in " << seconds << " s");
    CHECK(ingress_rounds <= seconds + 2);
    // Inventory's relay emitted an InventoryReserved per order: it was woken to publish them.
    CHECK(rounds(inventory_before, Scrape(p.inventory)) >= 1);
}
