// The core pipeline end to end on a real broker: exactly-once effects under concurrency,
// duplicates, a consumer killed mid-flight, and a flash sale.
#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <mutex>
#include <thread>

#include "broker/client.hpp"
#include "broker/topology.hpp"
#include "events/ids.hpp"
#include "support.hpp"

using namespace orderflow;
using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

// Posts `count` orders from `threads` concurrent clients; returns the order ids of the 202s.
std::vector<std::string> PostConcurrently(uint16_t port, int count, int threads,
                                          const std::vector<std::pair<std::string, int>>& items,
                                          std::map<int, int>* statuses = nullptr) {
    std::mutex mutex;
    std::vector<std::string> ids;
    std::atomic<int> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            for (int i = next++; i < count; i = next++) {
                auto answer = PostOrder(port, "user" + std::to_string(i), items);
                std::lock_guard lock(mutex);
                if (statuses) ++(*statuses)[answer.status];
                if (answer.status == 202) ids.push_back(JsonField(answer.body, "order_id"));
            }
        });
    }
    for (auto& thread : pool) thread.join();
    return ids;
}

broker::ConnectionOptions Connection(const Vhost& vhost) {
    broker::ConnectionOptions options;
    options.url = vhost.AmqpUrl();
    return options;
}

}  // namespace

TEST_CASE("200 concurrent orders all reach notified, stock drops exactly, one notification each",
          "[pipeline]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p;
    p.StartAll();
    const auto before = StockLevel(p.inventory.Port(), "fries");
    REQUIRE(before == 200);

    auto ids = PostConcurrently(p.ingress.Port(), 200, 16, {{"fries", 1}});
    REQUIRE(ids.size() == 200);
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), ids); }, 60s, 250ms));

    CHECK(StockLevel(p.inventory.Port(), "fries") == 0);
    for (const auto& id : ids) {
        const auto body =
            HttpCall("GET", p.notification.Port(), "/notifications?order_id=" + id).body;
        REQUIRE(Occurrences(body, "\"order_id\"") == 1);
        CHECK(JsonField(body, "outcome") == "confirmed");
    }
    const auto order = HttpCall("GET", p.ingress.Port(), "/orders/" + ids.front()).body;
    CHECK(JsonField(order, "outcome") == "confirmed");
    CHECK(order.find("\"accepted\"") != std::string::npos);
    CHECK(order.find("\"reserved\"") != std::string::npos);
}

TEST_CASE("the same OrderPlaced published 5 times with one message_id changes stock once",
          "[pipeline]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p;
    p.StartAll();
    auto client = broker::Client::Connect(Connection(p.vhost));
    REQUIRE(client);

    const std::string event_id = "6f1c1c8e-4a51-4d3e-9d0e-1d7c0f2b9a01";
    const std::string order_id = "0b3b2a8e-7b7a-4c55-8f2a-5e6f7a8b9c0d";
    const auto message = OrderPlacedEvent(event_id, order_id, "dup", "pizza", 3);
    for (int i = 0; i < 5; ++i) {
        REQUIRE(client->Publish(message) == broker::PublishStatus::kConfirmed);
    }
    REQUIRE(Eventually([&] { return StatusOf(p.ingress.Port(), order_id) == "notified"; }, 30s));
    // Give the duplicates time to be consumed (they are acked without effect).
    REQUIRE(Eventually(
        [&] {
            auto info = client->Inspect(broker::kInventoryQueue);
            return info && *info && (*info)->messages == 0;
        },
        30s));
    std::this_thread::sleep_for(1s);
    CHECK(StockLevel(p.inventory.Port(), "pizza") == 47);
    CHECK(NotificationCount(p.notification.Port(), order_id) == 1);
    CHECK(Occurrences(p.inventory.Log(), "duplicate") == 4);
}

TEST_CASE("orders posted while inventory is killed wait in the queue and drain once on restart",
          "[pipeline]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p;
    p.StartAll();
    p.inventory.Kill(SIGKILL);
    REQUIRE(p.inventory.Wait(10s).has_value());

    std::map<int, int> statuses;
    auto ids = PostConcurrently(p.ingress.Port(), 300, 16, {{"soda", 1}}, &statuses);
    REQUIRE(statuses[202] == 300);
    REQUIRE(ids.size() == 300);

    auto client = broker::Client::Connect(Connection(p.vhost));
    REQUIRE(client);
    auto info = client->Inspect(broker::kInventoryQueue);
    REQUIRE(info);
    REQUIRE(*info);
    CHECK((*info)->messages == 300);
    CHECK((*info)->consumers == 0);

    p.inventory.Start();
    REQUIRE(p.inventory.WaitReady());
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), ids); }, 90s, 250ms));
    CHECK(StockLevel(p.inventory.Port(), "soda") == 0);  // 150 reserved, 150 rejected
    int rejected = 0;
    for (const auto& id : ids) {
        const auto order = HttpCall("GET", p.ingress.Port(), "/orders/" + id).body;
        rejected += JsonField(order, "outcome") == "rejected";
        REQUIRE(NotificationCount(p.notification.Port(), id) == 1);
    }
    CHECK(rejected == 150);
}

TEST_CASE("flash sale: 100 units and 1000 concurrent buyers sell exactly 100, never below zero",
          "[pipeline]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    const auto seed_dir = std::filesystem::temp_directory_path() / ("orderflow-seed-" + NewId());
    std::filesystem::create_directories(seed_dir);
    const auto seed = seed_dir / "seed.json";
    std::ofstream(seed) << R"({"ticket": 100})";
    Pipeline p({{"ORDERFLOW_INVENTORY_SEED", seed.string()}});
    p.StartAll();

    auto ids = PostConcurrently(p.ingress.Port(), 1000, 32, {{"ticket", 1}});
    REQUIRE(ids.size() == 1000);
    REQUIRE(Eventually([&] { return AllNotified(p.ingress.Port(), ids); }, 120s, 500ms));
    int confirmed = 0, rejected = 0;
    for (const auto& id : ids) {
        const auto outcome =
            JsonField(HttpCall("GET", p.ingress.Port(), "/orders/" + id).body, "outcome");
        confirmed += outcome == "confirmed";
        rejected += outcome == "rejected";
    }
    CHECK(confirmed == 100);
    CHECK(rejected == 900);
    CHECK(StockLevel(p.inventory.Port(), "ticket") == 0);
}

TEST_CASE("the same InventoryReserved published 5 times with one message_id notifies once",
          "[pipeline]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p;
    p.StartAll();
    auto client = broker::Client::Connect(Connection(p.vhost));
    REQUIRE(client);
    const auto order_id = events::NewUuid();
    const auto message = InventoryReservedEvent(events::NewUuid(), order_id, "dup", "fries");
    for (int i = 0; i < 5; ++i) {
        REQUIRE(client->Publish(message) == broker::PublishStatus::kConfirmed);
    }
    REQUIRE(Eventually([&] { return StatusOf(p.ingress.Port(), order_id) == "notified"; }, 30s));
    REQUIRE(Eventually(
        [&] {
            auto notification = client->Inspect(broker::kNotificationQueue);
            auto status = client->Inspect(broker::kOrderStatusQueue);
            return notification && *notification && (*notification)->messages == 0 && status &&
                   *status && (*status)->messages == 0;
        },
        30s));
    // Notification sent once and dropped the 4 copies; so did the ingress's order status.
    CHECK(Eventually(
        [&] {
            return Occurrences(p.notification.Log(), "duplicate") == 4 &&
                   Occurrences(p.ingress.Log(), "duplicate") == 4;
        },
        20s));
    std::this_thread::sleep_for(1s);  // a fifth copy handled as new would show by now
    CHECK(NotificationCount(p.notification.Port(), order_id) == 1);
    CHECK(Occurrences(p.notification.Log(), "duplicate") == 4);
    CHECK(Occurrences(p.ingress.Log(), "duplicate") == 4);
}
