// Failure handling on a real broker: poison, delayed retries and exhaustion, crash loops,
// SIGTERM during consumption, and a broker restart under load.
#include <fmt/format.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>

#include "broker/client.hpp"
#include "broker/topology.hpp"
#include "events/ids.hpp"
#include "support.hpp"

using namespace orderflow;
using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

std::string OrderPlacedBody(const std::string& event_id, const std::string& order_id,
                            const std::string& user, const std::string& sku = "burger",
                            int version = 1, const std::string& type = "OrderPlaced") {
    return R"({"event_id":")" + event_id + R"(","event_type":")" + type + R"(","schema_version":)" +
           std::to_string(version) + R"(,"occurred_at":"2026-11-21T12:00:00.000Z","order_id":")" +
           order_id + R"(","user_id":")" + user + R"(","items":[{"sku":")" + sku +
           R"(","quantity":1}]})";
}

broker::OutgoingMessage Raw(const std::string& body, const std::string& message_id) {
    broker::OutgoingMessage message;
    message.exchange = broker::kEventsExchange;
    message.routing_key = broker::RoutingKey{"order.placed"};
    message.properties.message_id = message_id;
    message.properties.type = "OrderPlaced";
    message.properties.headers["traceparent"] =
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    message.body = body;
    return message;
}

// Takes every message of `queue` (acked: the test owns this vhost).
std::vector<broker::Delivery> Drain(broker::Client& client, const broker::QueueName& queue) {
    std::vector<broker::Delivery> out;
    while (true) {
        auto got = client.Get(queue);
        REQUIRE(got);
        if (!got->has_value()) return out;
        REQUIRE(client.Ack((*got)->delivery_tag));
        out.push_back(std::move(**got));
    }
}

uint32_t Depth(broker::Client& client, const broker::QueueName& queue) {
    auto info = client.Inspect(queue);
    REQUIRE(info);
    REQUIRE(info->has_value());
    return (*info)->messages;
}

std::string Header(const broker::Delivery& d, const std::string& name) {
    const auto* value = d.properties.Header(name);
    return value ? *value : std::string();
}

const broker::QueueName kInventoryDlq{"inventory.order-placed.dlq"};

}  // namespace

TEST_CASE("each kind of poison reaches the DLQ at once with its failure record", "[failure]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p;
    p.StartAll();
    auto client = ConnectBroker(p.vhost);
    const std::vector<std::pair<std::string, broker::OutgoingMessage>> poison = {
        {"not_json", Raw(R"({"order_id": "poison", "invalid": json})", events::NewUuid())},
        {"schema_violation",
         Raw(OrderPlacedBody(events::NewUuid(), events::NewUuid(), ""), events::NewUuid())},
        {"missing message_id", Raw(OrderPlacedBody(events::NewUuid(), events::NewUuid(), "u"), "")},
        {"unknown_type", Raw(OrderPlacedBody(events::NewUuid(), events::NewUuid(), "u", "burger", 1,
                                             "OrderShipped"),
                             events::NewUuid())},
        {"unknown_version",
         Raw(OrderPlacedBody(events::NewUuid(), events::NewUuid(), "u", "burger", 2),
             events::NewUuid())},
    };
    for (const auto& [kind, message] : poison) {
        REQUIRE(client.Publish(message) == broker::PublishStatus::kConfirmed);
    }
    // A valid order behind the poison is not held up.
    auto answer = PostOrder(p.ingress.Port(), "after-poison", {{"burger", 1}});
    REQUIRE(answer.status == 202);
    const auto order_id = JsonField(answer.body, "order_id");
    REQUIRE(Eventually(
        [&] {
            return JsonField(HttpCall("GET", p.ingress.Port(), "/orders/" + order_id).body,
                             "status") == "notified";
        },
        30s));
    REQUIRE(Eventually([&] { return Depth(client, kInventoryDlq) == poison.size(); }, 15s));

    auto dead = Drain(client, kInventoryDlq);
    REQUIRE(dead.size() == poison.size());
    for (size_t i = 0; i < dead.size(); ++i) {
        const auto& d = dead[i];
        INFO("dead letter " << i << ": " << Header(d, "x-error"));
        CHECK(Header(d, "x-error-kind") == "poison");
        CHECK_FALSE(Header(d, "x-error").empty());
        CHECK(Header(d, "x-failed-queue") == "inventory.order-placed");
        CHECK(Header(d, "x-original-exchange") == "orders");
        CHECK(Header(d, "x-original-routing-key") == "order.placed");
        CHECK(d.properties.IntHeader("x-attempts") == 1);
        CHECK(events::ParseTime(Header(d, "x-first-failed-at")).has_value());
        CHECK(events::ParseTime(Header(d, "x-failed-at")).has_value());
        CHECK(Header(d, "x-consumer").starts_with("inventory@"));
        CHECK(Header(d, "traceparent") ==
              "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        // Body and properties unchanged; dead letters arrive in publish order.
        CHECK(d.body == poison[i].second.body);
        CHECK(d.properties.message_id == poison[i].second.properties.message_id);
    }
    CHECK(Header(dead[0], "x-error").find("not_json") != std::string::npos);
    CHECK(Header(dead[2], "x-error").find("message_id") != std::string::npos);
    CHECK(Header(dead[4], "x-error").find("version") != std::string::npos);
    CHECK(p.inventory.Log().find("retried") == std::string::npos);  // never retried
}

TEST_CASE(
    "poison that arrives while inventory's publisher cannot connect is dead-lettered once, "
    "with its record, never requeued",
    "[failure]") {
    // The dead-letter copy goes out through the publisher. Cut only the publisher's
    // connection and keep it from coming back (a connection limit on the vhost), then send
    // poison: the consumer has it while the publisher cannot send. Requeueing it then would
    // loop it through deliveries, each counted against the quorum limit, until the broker
    // dead-lettered it itself without our failure record. It must wait for the publisher.
    Pipeline p;
    p.StartAll();
    auto client = ConnectBroker(p.vhost);
    const auto limits = "/api/vhost-limits/" + p.vhost.Name() + "/max-connections";
    struct Unlimit {
        std::string path;
        ~Unlimit() { MgmtCall("DELETE", path, ""); }
    } unlimit{limits};
    // Every connection of the vhost (the management API lists them a little after they
    // open): the three services' consumers and publishers, the sync clients, ours. Counted
    // once inventory's publisher is among them (a service is ready before its publisher's
    // connection is listed: CI at 8124099 once counted without it) and the count is steady.
    constexpr std::string_view kPublisher = "orderflow-inventory publisher";
    size_t open = 0;
    REQUIRE(Eventually(
        [&] {
            const auto now = ConnectionNames(p.vhost).size();
            const bool steady =
                now > 0 && now == open && !ConnectionNames(p.vhost, kPublisher).empty();
            open = now;
            return steady;
        },
        15s, 500ms));
    // The listing can lag the broker (a connection that just closed is still listed for a
    // moment), so the count may be too high: close the publisher, and if a new connection of
    // it shows up, the limit let it in: lower the limit and close that one too.
    std::set<std::string> closed;
    const auto reopened = [&] {
        for (const auto& name : ConnectionNames(p.vhost, kPublisher)) {
            if (!closed.contains(name)) return true;
        }
        return false;
    };
    auto limit = open - 1;
    for (int round = 0;; ++round) {
        REQUIRE(round < 5);
        REQUIRE(MgmtCall("PUT", limits, fmt::format(R"({{"value":{}}})", limit)).status / 100 == 2);
        for (const auto& name : ConnectionNames(p.vhost, kPublisher)) {
            if (closed.insert(name).second) CloseConnection(name);
        }
        if (!Eventually(reopened, 2s, 100ms)) break;
        --limit;
    }
    CHECK(closed.size() >= 1);

    const auto poison = Raw(R"({"not": json})", events::NewUuid());
    REQUIRE(client.Publish(poison) == broker::PublishStatus::kConfirmed);
    std::this_thread::sleep_for(2s);  // the consumer holds it; the publisher is refused
    CHECK(Depth(client, kInventoryDlq) == 0);
    CHECK(p.inventory.Log().find("requeued") == std::string::npos);
    REQUIRE(MgmtCall("DELETE", limits, "").status / 100 == 2);

    REQUIRE(Eventually([&] { return Depth(client, kInventoryDlq) >= 1; }, 20s));
    std::this_thread::sleep_for(1s);  // a second copy, if any, shows up meanwhile
    auto dead = Drain(client, kInventoryDlq);
    REQUIRE(dead.size() == 1);
    const auto& d = dead.front();
    CHECK(Header(d, "x-error-kind") == "poison");
    CHECK(d.properties.IntHeader("x-attempts") == 1);
    CHECK(d.properties.message_id == poison.properties.message_id);
    CHECK(d.properties.IntHeader("x-delivery-count").value_or(0) == 0);  // never returned
    CHECK(Depth(client, broker::QueueName{"inventory.order-placed"}) == 0);
    const auto log = p.inventory.Log();
    CHECK(log.find("publisher disconnected") != std::string::npos);
    CHECK(log.find("requeued") == std::string::npos);
}

TEST_CASE("a transient failure is retried after the delays and dead-lettered after max attempts",
          "[failure]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p({{"ORDERFLOW_MAX_ATTEMPTS", "3"}, {"ORDERFLOW_RETRY_DELAYS_MS", "200,400"}},
               {{"ORDERFLOW_INJECT_FAIL_RATE", "1"}});
    p.StartAll();
    auto client = ConnectBroker(p.vhost);
    auto answer = PostOrder(p.ingress.Port(), "flaky", {{"salad", 2}});
    REQUIRE(answer.status == 202);
    const auto order_id = JsonField(answer.body, "order_id");

    // 3 attempts with ~200 and ~400 ms (+/-20%) between them: not dead before 480 ms.
    std::this_thread::sleep_for(300ms);
    CHECK(Depth(client, kInventoryDlq) == 0);
    REQUIRE(Eventually([&] { return Depth(client, kInventoryDlq) == 1; }, 20s));
    auto dead = Drain(client, kInventoryDlq);
    REQUIRE(dead.size() == 1);
    const auto& d = dead[0];
    CHECK(Header(d, "x-error-kind") == "exhausted");
    CHECK(d.properties.IntHeader("x-attempts") == 3);
    CHECK(d.properties.correlation_id == order_id);
    CHECK(Header(d, "x-original-routing-key") == "order.placed");
    const auto first = events::ParseTime(Header(d, "x-first-failed-at"));
    const auto last = events::ParseTime(Header(d, "x-failed-at"));
    REQUIRE(first);
    REQUIRE(last);
    const auto spread = std::chrono::duration_cast<std::chrono::milliseconds>(*last - *first);
    // The configured delays, not the defaults (1000,5000: at least 4.8 s): at least 0.8
    // times 200 + 400, and well below the defaults with seconds for the redeliveries.
    CHECK(spread >= 480ms);
    CHECK(spread <= 3000ms);
    // Inventory handled it three times (that the copies went to its queue alone, not to
    // every queue bound to order.placed, broker_test and the retry unit tests check).
    const auto log = p.inventory.Log();
    size_t attempts = 0;
    for (auto pos = log.find(order_id); pos != std::string::npos;
         pos = log.find(order_id, pos + 1)) {
        ++attempts;
    }
    CHECK(attempts == 3);
    CHECK(HttpCall("GET", p.inventory.Port(), "/inventory").body.find("\"salad\":75") !=
          std::string::npos);
}

TEST_CASE("a message that crashes the consumer every time ends in the DLQ via the delivery limit",
          "[failure]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p({},
               {{"ORDERFLOW_TEST_CRASH_MARKER", "crash-me-please"}, {"ORDERFLOW_PREFETCH", "1"}});
    p.StartAll();
    auto client = ConnectBroker(p.vhost);
    auto crash = PostOrder(p.ingress.Port(), "crash-me-please", {{"burger", 1}});
    REQUIRE(crash.status == 202);
    auto fine = PostOrder(p.ingress.Port(), "innocent", {{"burger", 1}});
    REQUIRE(fine.status == 202);

    // A supervisor: restart the consumer whenever it dies, as systemd or compose would.
    int crashes = 0;
    const bool dead_lettered = Eventually(
        [&] {
            if (!p.inventory.Running()) {
                ++crashes;
                p.inventory.Start();
            }
            return Depth(client, kInventoryDlq) == 1;
        },
        180s, 200ms);
    REQUIRE(dead_lettered);
    auto dead = Drain(client, kInventoryDlq);
    REQUIRE(dead.size() == 1);
    // The limit is 10 deliveries (README, x-delivery-limit): the tenth redelivery is
    // dead-lettered by the consumer itself, after 10 crashes; not one crash more or less.
    INFO(crashes << " crashes; " << Header(dead[0], "x-error"));
    CHECK(crashes == 10);
    CHECK(dead[0].body.find("crash-me-please") != std::string::npos);
    CHECK(Header(dead[0], "x-error-kind") == "exhausted");
    CHECK(Header(dead[0], "x-error").find("crash loop") != std::string::npos);
    REQUIRE(Eventually(
        [&] {
            return JsonField(HttpCall("GET", p.ingress.Port(),
                                      "/orders/" + JsonField(fine.body, "order_id"))
                                 .body,
                             "status") == "notified";
        },
        30s));
}

TEST_CASE("SIGTERM during consumption loses nothing and applies nothing twice", "[failure]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p({}, {{"ORDERFLOW_INJECT_DELAY_MS", "10"}});
    p.StartAll();
    std::vector<std::string> ids;
    for (int i = 0; i < 150; ++i) {
        auto answer = PostOrder(p.ingress.Port(), "term" + std::to_string(i), {{"fries", 1}});
        REQUIRE(answer.status == 202);
        ids.push_back(JsonField(answer.body, "order_id"));
    }
    std::this_thread::sleep_for(500ms);  // mid-drain: ~50 of 150 handled
    p.inventory.Kill(SIGTERM);
    const auto exit_code = p.inventory.Wait(20s);
    REQUIRE(exit_code.has_value());
    CHECK(*exit_code == 0);
    p.inventory.Start();
    REQUIRE(p.inventory.WaitReady());
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), ids); }, 60s, 250ms));
    CHECK(HttpCall("GET", p.inventory.Port(), "/inventory").body.find("\"fries\":50") !=
          std::string::npos);
}
