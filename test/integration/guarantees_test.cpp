// SPEC section 6, the parts the pipeline tests reach only indirectly: an unroutable event is
// an error and not a silent drop (at the ingress and at inventory's outbox relay), events are
// published persistent, a duplicate is acked, a dead letter keeps the original message's
// properties, a stop by SIGTERM or SIGINT acks what it applied and publishes its outbox
// before the process exits, for inventory and for notification (checked without restarting
// it, so nothing redone later hides a loss), and processed ids are pruned after the
// retention.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <map>
#include <thread>

#include "broker/client.hpp"
#include "broker/topology.hpp"
#include "events/ids.hpp"
#include "support.hpp"

using namespace orderflow;
using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

// A binding of the `orders` exchange, as the management API names it: `props` is the
// routing key URL-encoded (none of the contract's bindings has arguments).
struct Binding {
    std::string queue;
    std::string key;
    std::string props;
};

std::string BindingsPath(const Vhost& vhost, const std::string& queue) {
    return "/api/bindings/" + vhost.Name() + "/e/" + broker::kEventsExchange.value + "/q/" + queue;
}

void Unbind(const Vhost& vhost, const std::vector<Binding>& bindings) {
    for (const auto& binding : bindings) {
        const auto path = BindingsPath(vhost, binding.queue) + "/" + binding.props;
        REQUIRE(MgmtCall("DELETE", path, "").status / 100 == 2);
    }
}

void Bind(const Vhost& vhost, const std::vector<Binding>& bindings) {
    for (const auto& binding : bindings) {
        const auto body = R"({"routing_key":")" + binding.key + R"("})";
        REQUIRE(MgmtCall("POST", BindingsPath(vhost, binding.queue), body).status / 100 == 2);
    }
}

broker::Delivery GetOne(broker::Client& client, const broker::QueueName& queue) {
    std::optional<broker::Delivery> got;
    REQUIRE(Eventually(
        [&] {
            auto delivery = client.Get(queue);
            REQUIRE(delivery);
            got = std::move(*delivery);
            return got.has_value();
        },
        20s));
    REQUIRE(client.Ack(got->delivery_tag));
    return *got;
}

const std::vector<Binding> kOrderPlacedRoutes = {
    {broker::kInventoryQueue.value, "order.placed", "order.placed"},
    {broker::kEventStream.value, "#", "%23"},
};
const std::vector<Binding> kInventoryEventRoutes = {
    {broker::kNotificationQueue.value, "inventory.reserved", "inventory.reserved"},
    {broker::kNotificationQueue.value, "inventory.rejected", "inventory.rejected"},
    {broker::kOrderStatusQueue.value, "inventory.*", "inventory.%2A"},
    {broker::kEventStream.value, "#", "%23"},
};

}  // namespace

TEST_CASE("an OrderPlaced no queue is bound for is answered 503 and accepted once bound again",
          "[guarantees]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p;
    p.StartAll();
    Unbind(p.vhost, kOrderPlacedRoutes);

    const std::vector<std::pair<std::string, std::string>> key = {
        {"Idempotency-Key", "unroutable-" + NewId()}};
    auto refused = PostOrder(p.ingress.Port(), "nowhere", {{"fries", 1}}, key);
    CHECK(refused.status == 503);
    CHECK(JsonField(refused.body, "code") == "BROKER_UNAVAILABLE");
    CHECK(p.ingress.Log().find("unroutable") != std::string::npos);

    Bind(p.vhost, kOrderPlacedRoutes);
    auto accepted = PostOrder(p.ingress.Port(), "nowhere", {{"fries", 1}}, key);
    REQUIRE(accepted.status == 202);
    const auto order_id = JsonField(accepted.body, "order_id");
    REQUIRE(Eventually([&] { return StatusOf(p.ingress.Port(), order_id) == "notified"; }, 30s));
    CHECK(JsonField(HttpCall("GET", p.inventory.Port(), "/inventory").body, "fries") == "199");
}

TEST_CASE("an event inventory emits that no queue is bound for stays in its outbox until bound",
          "[guarantees]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p;
    p.StartAll();
    Unbind(p.vhost, kInventoryEventRoutes);

    auto answer = PostOrder(p.ingress.Port(), "held", {{"fries", 1}});
    REQUIRE(answer.status == 202);
    const auto order_id = JsonField(answer.body, "order_id");
    // Inventory applies the order (stock drops) but its InventoryReserved is returned by the
    // broker: the relay must keep the row, not count it as published.
    REQUIRE(Eventually(
        [&] {
            return JsonField(HttpCall("GET", p.inventory.Port(), "/inventory").body, "fries") ==
                   "199";
        },
        20s));
    REQUIRE(
        Eventually([&] { return p.inventory.Log().find("unroutable") != std::string::npos; }, 20s));
    std::this_thread::sleep_for(1s);
    CHECK(StatusOf(p.ingress.Port(), order_id) == "accepted");

    Bind(p.vhost, kInventoryEventRoutes);
    REQUIRE(Eventually([&] { return StatusOf(p.ingress.Port(), order_id) == "notified"; }, 30s));
    const auto notes =
        HttpCall("GET", p.notification.Port(), "/notifications?order_id=" + order_id).body;
    CHECK(JsonField(notes, "outcome") == "confirmed");
    CHECK(notes.find("\"order_id\"") == notes.rfind("\"order_id\""));  // one notification
}

TEST_CASE("every event the services publish is persistent", "[guarantees]") {
    Pipeline p;
    p.ingress.Start();
    REQUIRE(p.ingress.WaitReady());
    auto client = ConnectBroker(p.vhost);
    // One order reserved, one rejected (no such sku); then the ingress stops, so that the
    // order-status queue keeps what inventory and notification send it.
    REQUIRE(PostOrder(p.ingress.Port(), "durable", {{"fries", 1}}).status == 202);
    REQUIRE(PostOrder(p.ingress.Port(), "durable", {{"no-such-sku", 1}}).status == 202);
    p.ingress.Kill(SIGTERM);
    REQUIRE(p.ingress.Wait(20s) == std::optional<int>(0));
    std::map<std::string, int> persistent;  // type -> how many, of the persistent ones
    const auto take = [&](const broker::QueueName& queue, size_t count) {
        std::vector<broker::Delivery> got;
        for (size_t i = 0; i < count; ++i) got.push_back(GetOne(client, queue));
        for (const auto& delivery : got) {
            INFO(delivery.properties.type << " in " << queue.value);
            CHECK(delivery.properties.delivery_mode == 2);
            if (delivery.properties.delivery_mode == 2) ++persistent[delivery.properties.type];
        }
        return got;
    };
    // Put back for the next service what the test took from its queue.
    const auto put_back = [&](const std::vector<broker::Delivery>& deliveries) {
        for (const auto& delivery : deliveries) {
            broker::OutgoingMessage again;
            again.exchange = broker::kEventsExchange;
            again.routing_key = delivery.routing_key;
            again.properties = delivery.properties;
            again.body = delivery.body;
            REQUIRE(client.Publish(again) == broker::PublishStatus::kConfirmed);
        }
    };
    put_back(take(broker::kInventoryQueue, 2));
    p.inventory.Start();
    REQUIRE(p.inventory.WaitReady());
    put_back(take(broker::kNotificationQueue, 2));
    p.notification.Start();
    REQUIRE(p.notification.WaitReady());
    // The order status: the two inventory events twice (sent by inventory, put back by the
    // test), and the two NotificationSent.
    take(broker::kOrderStatusQueue, 6);
    CHECK(persistent["OrderPlaced"] == 2);
    CHECK(persistent["InventoryReserved"] == 3);
    CHECK(persistent["InventoryRejected"] == 3);
    CHECK(persistent["NotificationSent"] == 2);
    // The check can fail: a transient message comes back transient.
    auto transient = RawEvent("notification.sent", "{}");
    transient.properties.delivery_mode = 1;
    REQUIRE(client.Publish(transient) == broker::PublishStatus::kConfirmed);
    CHECK(GetOne(client, broker::kOrderStatusQueue).properties.delivery_mode == 1);
}

TEST_CASE("duplicates of a message are acked, not left unacknowledged", "[guarantees]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p;
    p.StartAll();
    auto client = ConnectBroker(p.vhost);
    const std::string event_id = events::NewUuid();
    const std::string order_id = events::NewUuid();
    const auto message = OrderPlacedEvent(event_id, order_id, "dup", "pizza", 1);
    for (int i = 0; i < 5; ++i) {
        REQUIRE(client.Publish(message) == broker::PublishStatus::kConfirmed);
    }
    REQUIRE(Eventually([&] { return StatusOf(p.ingress.Port(), order_id) == "notified"; }, 30s));
    REQUIRE(Eventually([&] { return ReadyIn(client, broker::kInventoryQueue) == 0; }, 20s));
    // A duplicate held unacked would be back in the queue once inventory's connection closes.
    p.inventory.Kill(SIGTERM);
    REQUIRE(p.inventory.Wait(20s) == std::optional<int>(0));
    CHECK(ReadyIn(client, broker::kInventoryQueue) == 0);
    // Nor requeued until the delivery limit dead-letters them.
    CHECK(ReadyIn(client, broker::DeadLetterQueue(broker::kInventoryQueue)) == 0);
}

TEST_CASE(
    "a dead letter keeps the original properties, traceparent and body, and carries the "
    "failure record: poison at once, and exhausted after trips through a delay queue",
    "[guarantees]") {
    const std::string kind = GENERATE(std::string("poison"), std::string("exhausted"));
    const bool poison = kind == "poison";
    // Exhausted: every handling fails, 3 attempts 200 ms apart.
    Pipeline p({}, poison
                       ? std::map<std::string, std::string>{}
                       : std::map<std::string, std::string>{{"ORDERFLOW_INJECT_FAIL_RATE", "1"},
                                                            {"ORDERFLOW_MAX_ATTEMPTS", "3"},
                                                            {"ORDERFLOW_RETRY_DELAYS_MS", "200"}});
    p.StartAll();
    auto client = ConnectBroker(p.vhost);
    const auto event_id = events::NewUuid();
    auto sent = OrderPlacedEvent(event_id, events::NewUuid(), "dead", "fries");
    sent.properties.app_id = "guarantees-test";
    sent.properties.content_type = "application/json";
    sent.properties.timestamp = 1764763200;
    sent.properties.headers["traceparent"] =
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    sent.properties.headers["x-custom"] = "kept";
    if (poison) sent.body = R"({"not":"an order")";  // not JSON
    REQUIRE(client.Publish(sent) == broker::PublishStatus::kConfirmed);

    const auto dead = GetOne(client, broker::DeadLetterQueue(broker::kInventoryQueue));
    INFO(kind);
    CHECK(dead.body == sent.body);
    CHECK(dead.properties.message_id == sent.properties.message_id);
    CHECK(dead.properties.correlation_id == sent.properties.correlation_id);
    CHECK(dead.properties.type == sent.properties.type);
    CHECK(dead.properties.app_id == sent.properties.app_id);
    CHECK(dead.properties.content_type == sent.properties.content_type);
    CHECK(dead.properties.timestamp == sent.properties.timestamp);
    CHECK(dead.properties.delivery_mode == 2);
    const auto header = [&](const char* name) -> std::string {
        const auto* value = dead.properties.Header(name);
        INFO(name);
        CHECK(value != nullptr);
        return value ? *value : std::string();
    };
    CHECK(header("traceparent") == *sent.properties.Header("traceparent"));
    CHECK(header("x-custom") == "kept");
    // The failure record of SPEC section 6.
    CHECK(header("x-error-kind") == kind);
    CHECK_FALSE(header("x-error").empty());
    CHECK(header("x-failed-queue") == broker::kInventoryQueue.value);
    CHECK(header("x-original-exchange") == broker::kEventsExchange.value);
    CHECK(header("x-original-routing-key") == "order.placed");
    CHECK(dead.properties.IntHeader("x-attempts") == (poison ? 1 : 3));
    const auto first = events::ParseTime(header("x-first-failed-at"));
    const auto last = events::ParseTime(header("x-failed-at"));
    REQUIRE(first);
    REQUIRE(last);
    CHECK(*first <= *last);
    if (!poison) CHECK(*last - *first >= std::chrono::milliseconds(320));  // 2 x 0.8 x 200
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    const auto consumer = header("x-consumer");
    CHECK(consumer.starts_with("inventory@"));
    CHECK(consumer.find(host) != std::string::npos);
}

namespace {

// Stops `victim`, the consumer of `queue`, by `signal` while it drains the orders `ids`,
// and checks without restarting it what SIGTERM/SIGINT promise (SPEC section 6): it exits
// 0, what it did not ack is back in its queue, and what it acked had its events published,
// so those orders move on without it. An effect applied but not acked would leave a
// notified order's message in the queue; an ack without the outbox published, an order
// stuck at `before` with no message left.
void CheckStopMidDrain(Pipeline& p, Service& victim, const broker::QueueName& queue, int signal,
                       const std::vector<std::string>& ids, const std::string& before) {
    auto client = ConnectBroker(p.vhost);
    const auto total = static_cast<int>(ids.size());
    victim.Kill(signal);
    REQUIRE(victim.Wait(20s) == std::optional<int>(0));
    const auto left = ReadyIn(client, queue);
    INFO("signal " << signal << ", " << left << " of " << total << " left in " << queue.value);
    CHECK(left > 0);
    CHECK(left < static_cast<uint32_t>(total));
    int notified = 0;
    int waiting = 0;
    REQUIRE(Eventually(
        [&] {
            notified = 0;
            waiting = 0;
            for (const auto& id : ids) {
                const auto status = StatusOf(p.ingress.Port(), id);
                if (status == "notified") ++notified;
                if (status == before) ++waiting;
            }
            return notified + waiting == total;
        },
        30s, 500ms));
    INFO(notified << " notified, " << waiting << " still " << before);
    CHECK(waiting == static_cast<int>(left));
    CHECK(ReadyIn(client, queue) == left);
}

std::vector<std::string> PostOrders(Pipeline& p, const std::string& prefix, int count) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
        auto answer = PostOrder(p.ingress.Port(), prefix + std::to_string(i), {{"fries", 1}});
        REQUIRE(answer.status == 202);
        ids.push_back(JsonField(answer.body, "order_id"));
    }
    return ids;
}

}  // namespace

TEST_CASE("a stop by SIGTERM or SIGINT acks what inventory applied and publishes its outbox",
          "[guarantees]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    const int signal = GENERATE(SIGTERM, SIGINT);
    StoreBackendScope store_backend(backend);
    // A prefetch of 20: SIGTERM finishes what was delivered, and the rest must stay queued.
    Pipeline p({}, {{"ORDERFLOW_INJECT_DELAY_MS", "10"}, {"ORDERFLOW_PREFETCH", "20"}});
    p.StartAll();
    const auto ids = PostOrders(p, "stop", 200);
    std::this_thread::sleep_for(300ms);  // mid-drain: inventory takes >= 10 ms an order
    CheckStopMidDrain(p, p.inventory, broker::kInventoryQueue, signal, ids, "accepted");
}

TEST_CASE("a stop by SIGTERM or SIGINT acks what notification applied and publishes its outbox",
          "[guarantees]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    const int signal = GENERATE(SIGTERM, SIGINT);
    StoreBackendScope store_backend(backend);
    Pipeline p;
    // Notification, slow and with a prefetch of 20, in place of the pipeline's own: at
    // about 30 orders a second it is still draining when the last order is reserved.
    auto env = p.env;
    env["ORDERFLOW_INJECT_DELAY_MS"] = "30";
    env["ORDERFLOW_PREFETCH"] = "20";
    Service notification("orderflow-notification", env, p.dir);
    p.inventory.Start();
    p.ingress.Start();
    notification.Start();
    REQUIRE(p.inventory.WaitReady());
    REQUIRE(p.ingress.WaitReady());
    REQUIRE(notification.WaitReady());
    const auto ids = PostOrders(p, "stopn", 200);
    // Inventory has reserved every order before the stop, so each one's message is either
    // acked by notification (the order goes on to notified) or still in its queue.
    REQUIRE(Eventually(
        [&] {
            return std::ranges::none_of(
                ids, [&](const auto& id) { return StatusOf(p.ingress.Port(), id) == "accepted"; });
        },
        30s, 200ms));
    CheckStopMidDrain(p, notification, broker::kNotificationQueue, signal, ids, "reserved");
}

TEST_CASE("inventory prunes processed message ids older than the retention and keeps the newer",
          "[guarantees]") {
    // SPEC section 6: processed ids are pruned after the retention (default 7 days). The
    // service prunes at its first batch, then hourly; the store tests check the statement
    // on both backends, this one that the service runs it with the retention it was given.
    StoreBackendScope store_backend("sqlite");
    Pipeline p;
    p.StartAll();
    const auto first = PostOrders(p, "prune", 2);
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), first); }, 30s));
    p.inventory.Kill(SIGTERM);
    REQUIRE(p.inventory.Wait(20s) == std::optional<int>(0));

    const auto db_path = (p.dir / "inventory.db").string();
    const auto ids_in = [&] {
        SQLite::Database db(db_path, SQLite::OPEN_READONLY);
        SQLite::Statement query(db, "SELECT message_id FROM processed_messages ORDER BY 1");
        std::vector<std::string> ids;
        while (query.executeStep()) ids.push_back(query.getColumn(0).getString());
        return ids;
    };
    const auto before = ids_in();
    REQUIRE(before.size() == 2);
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    constexpr int64_t kDay = 24LL * 3600 * 1000;
    {
        SQLite::Database db(db_path, SQLite::OPEN_READWRITE);
        SQLite::Statement age(
            db, "UPDATE processed_messages SET processed_at = ? WHERE message_id = ?");
        age.bind(1, static_cast<int64_t>(now_ms - 8 * kDay));  // beyond the 7 days
        age.bind(2, before[0]);
        REQUIRE(age.exec() == 1);
        age.reset();
        age.bind(1, static_cast<int64_t>(now_ms - 6 * kDay));  // within them
        age.bind(2, before[1]);
        REQUIRE(age.exec() == 1);
    }

    p.inventory.Start();
    REQUIRE(p.inventory.WaitReady());
    const auto later = PostOrders(p, "prune-later", 1);
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), later); }, 30s));
    const auto after = ids_in();
    CHECK(std::ranges::find(after, before[0]) == after.end());
    CHECK(std::ranges::find(after, before[1]) != after.end());
    CHECK(after.size() == 2);  // the 6-day id and the new order's
}

TEST_CASE(
    "a stop by SIGTERM or SIGINT answers the POSTs in flight: every order published was answered "
    "202",
    "[guarantees]") {
    const int signal = GENERATE(SIGTERM, SIGINT);
    // The ingress's in-flight work is the requests it is handling: each one whose
    // OrderPlaced the broker confirmed gets its 202 before the process exits, so the
    // inventory queue (nobody consumes it here) holds exactly one message per 202.
    Pipeline p;
    p.ingress.Start();
    REQUIRE(p.ingress.WaitReady());
    std::atomic<bool> stop{false};
    std::atomic<int> accepted{0};
    std::atomic<int> unanswered{0};
    std::atomic<int> other{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 8; ++c) {
        clients.emplace_back([&, c] {
            for (int i = 0; !stop; ++i) {
                const auto answer =
                    PostOrder(p.ingress.Port(),
                              "term" + std::to_string(c) + "-" + std::to_string(i), {{"fries", 1}});
                if (answer.status == 202) {
                    ++accepted;
                } else if (answer.status == 0) {
                    ++unanswered;  // refused once the listener is closed, or cut
                    std::this_thread::sleep_for(10ms);
                } else {
                    ++other;
                }
            }
        });
    }
    std::this_thread::sleep_for(1s);
    p.ingress.Kill(signal);
    const auto exit_code = p.ingress.Wait(20s);
    stop = true;
    for (auto& client : clients) client.join();
    REQUIRE(exit_code == std::optional<int>(0));
    INFO(accepted << " accepted, " << unanswered << " unanswered, " << other << " other answers");
    REQUIRE(accepted > 0);
    auto client = ConnectBroker(p.vhost);
    CHECK(ReadyIn(client, broker::kInventoryQueue) == static_cast<uint32_t>(accepted.load()));
}
