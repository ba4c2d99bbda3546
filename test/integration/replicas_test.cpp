// Replicas on one PostgreSQL database (SPEC section 9): competing inventory replicas never
// oversell, a message id's effect happens once across replicas, an Idempotency-Key means the
// same on every ingress replica, and the outbox of a replica that died after its commit is
// published by another. PostgreSQL only: skipped when scripts/test.sh started none.
#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
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

bool HavePostgres() { return StoreBackends().size() > 1; }

broker::ConnectionOptions Options(const Vhost& vhost) {
    broker::ConnectionOptions options;
    options.url = vhost.AmqpUrl();
    return options;
}

// N replicas of each service on one vhost and one PostgreSQL database; each replica logs
// into a directory of its own.
struct Replicas {
    Vhost vhost;
    std::filesystem::path dir;
    std::map<std::string, std::string> env;
    std::vector<std::unique_ptr<Service>> inventory, notification, ingress;

    explicit Replicas(std::map<std::string, std::string> extra = {})  // NOLINT
        : dir(std::filesystem::temp_directory_path() / ("orderflow-replicas-" + NewId())) {
        env = {{"ORDERFLOW_AMQP_URL", vhost.AmqpUrl()},
               {"ORDERFLOW_DATA_DIR", (dir / "unused").string()},
               {"ORDERFLOW_DATABASE_URL", NewTestDatabase()}};
        for (auto& [k, v] : extra) env[k] = v;
    }
    Service& Add(std::vector<std::unique_ptr<Service>>& group, const std::string& binary,
                 std::map<std::string, std::string> more = {}) {
        auto log_dir = dir / (binary + "-" + std::to_string(group.size() + 1));
        std::filesystem::create_directories(log_dir);
        auto e = env;
        for (auto& [k, v] : more) e[k] = v;
        group.push_back(std::make_unique<Service>(binary, e, log_dir));
        return *group.back();
    }
    Service& AddInventory(std::map<std::string, std::string> more = {}) {
        return Add(inventory, "orderflow-inventory", std::move(more));
    }
    Service& AddNotification() { return Add(notification, "orderflow-notification"); }
    Service& AddIngress() { return Add(ingress, "orderflow-ingress"); }
    // Starts every replica at once (they create the schema together), then waits.
    void StartAll() {
        for (auto* group : {&inventory, &notification, &ingress}) {
            for (auto& service : *group) service->Start();
        }
        for (auto* group : {&inventory, &notification, &ingress}) {
            for (auto& service : *group) REQUIRE(service->WaitReady());
        }
    }
};

std::filesystem::path WriteSeed(const std::filesystem::path& dir, const std::string& json) {
    std::filesystem::create_directories(dir);
    auto path = dir / "seed.json";
    std::ofstream(path) << json;
    return path;
}

int64_t StockOf(uint16_t inventory_port, const std::string& sku) {
    const auto value = JsonField(HttpCall("GET", inventory_port, "/inventory").body, sku);
    return value.empty() ? -1 : std::stoll(value);
}

broker::OutgoingMessage OrderPlacedMessage(const std::string& event_id, const std::string& order_id,
                                           const std::string& user, const std::string& sku) {
    broker::OutgoingMessage message;
    message.exchange = broker::kEventsExchange;
    message.routing_key = broker::RoutingKey{"order.placed"};
    message.properties.message_id = event_id;
    message.properties.correlation_id = order_id;
    message.properties.type = "OrderPlaced";
    message.body = R"({"event_id":")" + event_id +
                   R"(","event_type":"OrderPlaced","schema_version":1,)"
                   R"("occurred_at":"2026-11-21T12:00:00.000Z","order_id":")" +
                   order_id + R"(","user_id":")" + user + R"(","items":[{"sku":")" + sku +
                   R"(","quantity":1}]})";
    return message;
}

}  // namespace

TEST_CASE(
    "replicas: 3 inventory and 2 ingress replicas sell exactly 100 of 100 units to 1000 buyers",
    "[replicas]") {
    if (!HavePostgres()) {
        WARN("no PostgreSQL (ORDERFLOW_TEST_DATABASE_URL): skipped");
        return;
    }
    Replicas r;
    const auto seed = WriteSeed(r.dir, R"({"ticket":100})");
    for (int i = 0; i < 3; ++i) r.AddInventory({{"ORDERFLOW_INVENTORY_SEED", seed.string()}});
    r.AddNotification();
    r.AddIngress();
    r.AddIngress();
    r.StartAll();

    std::mutex mutex;
    std::vector<std::string> ids;
    std::atomic<int> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 32; ++t) {
        pool.emplace_back([&, t] {
            const auto port = r.ingress[static_cast<size_t>(t % 2)]->Port();
            for (int i = next++; i < 1000; i = next++) {
                auto answer = PostOrder(port, "buyer" + std::to_string(i), {{"ticket", 1}});
                std::lock_guard lock(mutex);
                if (answer.status == 202) ids.push_back(JsonField(answer.body, "order_id"));
            }
        });
    }
    for (auto& thread : pool) thread.join();
    REQUIRE(ids.size() == 1000);
    REQUIRE(Eventually([&] { return AllNotified(r.ingress[0]->Port(), ids); }, 120s, 500ms));
    int confirmed = 0, rejected = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
        // GET answers are the same on every replica: ask them in turn.
        const auto port = r.ingress[i % 2]->Port();
        const auto outcome = JsonField(HttpCall("GET", port, "/orders/" + ids[i]).body, "outcome");
        confirmed += outcome == "confirmed";
        rejected += outcome == "rejected";
    }
    CHECK(confirmed == 100);
    CHECK(rejected == 900);
    for (auto& inventory : r.inventory) CHECK(StockOf(inventory->Port(), "ticket") == 0);
}

TEST_CASE("replicas: one message id delivered to two inventory replicas at once changes stock once",
          "[replicas]") {
    if (!HavePostgres()) {
        WARN("no PostgreSQL (ORDERFLOW_TEST_DATABASE_URL): skipped");
        return;
    }
    // Prefetch 1: the copies spread over both replicas instead of queueing at one.
    Replicas r(std::map<std::string, std::string>{{"ORDERFLOW_PREFETCH", "1"}});
    r.AddInventory();
    r.AddInventory();
    r.AddNotification();
    r.AddIngress();
    r.StartAll();
    const auto before = StockOf(r.inventory[0]->Port(), "pizza");
    auto client = broker::Client::Connect(Options(r.vhost));
    REQUIRE(client);
    const std::string event_id = events::NewUuid();
    const std::string order_id = events::NewUuid();
    for (int i = 0; i < 40; ++i) {
        REQUIRE(client->Publish(OrderPlacedMessage(event_id, order_id, "dup", "pizza")) ==
                broker::PublishStatus::kConfirmed);
    }
    REQUIRE(Eventually(
        [&] {
            auto info = client->Inspect(broker::kInventoryQueue);
            return info && *info && (*info)->messages == 0;
        },
        30s));
    REQUIRE(
        Eventually([&] { return StatusOf(r.ingress[0]->Port(), order_id) == "notified"; }, 30s));
    std::this_thread::sleep_for(1s);
    CHECK(StockOf(r.inventory[0]->Port(), "pizza") == before - 1);
    CHECK(StockOf(r.inventory[1]->Port(), "pizza") == before - 1);
    const auto notes =
        HttpCall("GET", r.notification[0]->Port(), "/notifications?order_id=" + order_id).body;
    CHECK(notes.find("\"order_id\"") == notes.rfind("\"order_id\""));  // exactly one
    // Both replicas saw copies: the claim, not chance, kept the effect single.
    const auto dup0 = r.inventory[0]->Log().find("duplicate") != std::string::npos;
    const auto dup1 = r.inventory[1]->Log().find("duplicate") != std::string::npos;
    CHECK((dup0 || dup1));
}

TEST_CASE("replicas: one Idempotency-Key sent concurrently to two ingress replicas makes one order",
          "[replicas]") {
    if (!HavePostgres()) {
        WARN("no PostgreSQL (ORDERFLOW_TEST_DATABASE_URL): skipped");
        return;
    }
    Replicas r;
    r.AddInventory();
    r.AddNotification();
    r.AddIngress();
    r.AddIngress();
    r.StartAll();
    const auto before = StockOf(r.inventory[0]->Port(), "salad");
    const std::string key = "key-" + NewId();
    std::mutex mutex;
    std::set<std::string> orders;
    std::map<int, int> statuses;
    std::vector<std::thread> pool;
    for (int t = 0; t < 16; ++t) {
        pool.emplace_back([&, t] {
            auto answer = PostOrder(r.ingress[static_cast<size_t>(t % 2)]->Port(), "same",
                                    {{"salad", 1}}, {{"Idempotency-Key", key}});
            std::lock_guard lock(mutex);
            ++statuses[answer.status];
            if (answer.status == 202) orders.insert(JsonField(answer.body, "order_id"));
        });
    }
    for (auto& thread : pool) thread.join();
    INFO("202: " << statuses[202] << ", 409: " << statuses[409]);
    CHECK(statuses[202] + statuses[409] == 16);
    REQUIRE(orders.size() == 1);
    REQUIRE(Eventually(
        [&] { return StatusOf(r.ingress[1]->Port(), *orders.begin()) == "notified"; }, 30s));
    // A repeat after the first answer gets that answer, on either replica.
    for (auto& ingress : r.ingress) {
        auto again = PostOrder(ingress->Port(), "same", {{"salad", 1}}, {{"Idempotency-Key", key}});
        CHECK(again.status == 202);
        CHECK(JsonField(again.body, "order_id") == *orders.begin());
    }
    std::this_thread::sleep_for(1s);
    CHECK(StockOf(r.inventory[0]->Port(), "salad") == before - 1);
}

TEST_CASE(
    "replicas: events a replica committed but died before publishing are published by another "
    "within 15 s",
    "[replicas]") {
    if (!HavePostgres()) {
        WARN("no PostgreSQL (ORDERFLOW_TEST_DATABASE_URL): skipped");
        return;
    }
    Replicas r;
    auto& doomed =
        r.AddInventory({{"ORDERFLOW_TEST_CRASH_AFTER_COMMIT_MARKER", "crash-after-commit"}});
    r.AddNotification();
    r.AddIngress();
    r.StartAll();
    const auto before = StockOf(doomed.Port(), "soda");
    auto client = broker::Client::Connect(Options(r.vhost));
    REQUIRE(client);
    const std::string order_id = events::NewUuid();
    REQUIRE(client->Publish(OrderPlacedMessage(events::NewUuid(), order_id, "crash-after-commit",
                                               "soda")) == broker::PublishStatus::kConfirmed);
    // The doomed replica commits the reservation and its outbox row, then aborts.
    REQUIRE(doomed.Wait(30s).has_value());
    CHECK(StatusOf(r.ingress[0]->Port(), order_id) != "notified");

    auto& heir = r.AddInventory();
    heir.Start();
    REQUIRE(heir.WaitReady());
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(
        Eventually([&] { return StatusOf(r.ingress[0]->Port(), order_id) == "notified"; }, 20s));
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(took < 15s);
    // The redelivered message was a duplicate for the heir: reserved once.
    CHECK(StockOf(heir.Port(), "soda") == before - 1);
    CHECK(heir.Log().find("duplicate") != std::string::npos);
}

TEST_CASE(
    "replicas: PostgreSQL stopped for 20 s under load: 503s meanwhile, nothing dead-lettered, "
    "every 202 notified once",
    "[replicas][outage]") {
    const char* pg_dir = std::getenv("ORDERFLOW_TEST_PG_DIR");
    if (!HavePostgres() || pg_dir == nullptr || *pg_dir == '\0') {
        WARN("no PostgreSQL of scripts/test.sh (ORDERFLOW_TEST_PG_DIR): skipped");
        return;
    }
    const std::string pg = std::string(ORDERFLOW_SOURCE_DIR) + "/scripts/pg.sh";
    Replicas r;
    const auto seed = WriteSeed(r.dir, R"({"widget":100000})");
    r.AddInventory({{"ORDERFLOW_INVENTORY_SEED", seed.string()}});
    r.AddNotification();
    r.AddIngress();
    r.StartAll();
    const auto ingress = r.ingress[0]->Port();

    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::vector<std::string> ids;
    std::map<int, int> statuses;
    std::thread load([&] {
        for (int i = 0; !stop; ++i) {
            auto answer = PostOrder(ingress, "u" + std::to_string(i), {{"widget", 1}});
            {
                std::lock_guard lock(mutex);
                ++statuses[answer.status];
                if (answer.status == 202) ids.push_back(JsonField(answer.body, "order_id"));
            }
            std::this_thread::sleep_for(20ms);
        }
    });
    auto ready = [&](Service& service) {
        return HttpCall("GET", service.Port(), "/readyz", {}, {}, 2s).status == 200;
    };
    std::this_thread::sleep_for(2s);
    REQUIRE(std::system((pg + " stop --dir " + pg_dir).c_str()) == 0);
    const auto stopped = std::chrono::steady_clock::now();
    CHECK(Eventually([&] { return !ready(*r.ingress[0]) && !ready(*r.inventory[0]); }, 10s));
    std::this_thread::sleep_until(stopped + 20s);
    int unavailable = 0;
    {
        std::lock_guard lock(mutex);
        unavailable = statuses[503];
    }
    REQUIRE(std::system((pg + " start --dir " + pg_dir + " >/dev/null").c_str()) == 0);
    const auto started = std::chrono::steady_clock::now();
    CHECK(Eventually(
        [&] { return ready(*r.ingress[0]) && ready(*r.inventory[0]) && ready(*r.notification[0]); },
        10s, 200ms));
    const auto back = std::chrono::steady_clock::now() - started;
    std::this_thread::sleep_for(2s);
    stop = true;
    load.join();

    INFO("202: " << statuses[202] << ", 503: " << statuses[503] << ", ready again after "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(back).count() << " ms");
    CHECK(unavailable > 0);
    CHECK(back < 10s);
    for (const auto& [status, count] : statuses) CHECK((status == 202 || status == 503));
    REQUIRE(Eventually([&] { return AllNotified(ingress, ids); }, 60s, 500ms));
    for (const auto& id : ids) {
        const auto body =
            HttpCall("GET", r.notification[0]->Port(), "/notifications?order_id=" + id).body;
        REQUIRE(body.find("\"order_id\"") != std::string::npos);
        CHECK(body.find("\"order_id\"") == body.rfind("\"order_id\""));
    }
    auto client = broker::Client::Connect(Options(r.vhost));
    REQUIRE(client);
    for (const auto& queue :
         {broker::kInventoryQueue, broker::kNotificationQueue, broker::kOrderStatusQueue}) {
        auto info = client->Inspect(broker::DeadLetterQueue(queue));
        REQUIRE(info);
        REQUIRE(*info);
        CHECK((*info)->messages == 0);
    }
    CHECK(r.inventory[0]->Log().find("retried") == std::string::npos);
}

TEST_CASE(
    "replicas: SIGKILL of one replica of each consumer under load: every accepted order notified "
    "exactly once",
    "[replicas]") {
    if (!HavePostgres()) {
        WARN("no PostgreSQL (ORDERFLOW_TEST_DATABASE_URL): skipped");
        return;
    }
    Replicas r;
    const auto seed = WriteSeed(r.dir, R"({"widget":100000})");
    r.AddInventory({{"ORDERFLOW_INVENTORY_SEED", seed.string()}});
    r.AddInventory({{"ORDERFLOW_INVENTORY_SEED", seed.string()}});
    r.AddNotification();
    r.AddNotification();
    r.AddIngress();
    r.StartAll();
    const auto ingress = r.ingress[0]->Port();

    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::vector<std::string> ids;
    std::map<int, int> statuses;
    std::vector<std::thread> load;
    for (int t = 0; t < 4; ++t) {
        load.emplace_back([&, t] {
            for (int i = 0; !stop; ++i) {
                auto answer = PostOrder(ingress, "k" + std::to_string(t) + "-" + std::to_string(i),
                                        {{"widget", 1}});
                std::lock_guard lock(mutex);
                ++statuses[answer.status];
                if (answer.status == 202) ids.push_back(JsonField(answer.body, "order_id"));
            }
        });
    }
    std::this_thread::sleep_for(2s);
    r.inventory[0]->Kill(SIGKILL);
    r.notification[0]->Kill(SIGKILL);
    std::this_thread::sleep_for(3s);
    stop = true;
    for (auto& thread : load) thread.join();
    int total = 0;
    for (const auto& [status, count] : statuses) total += count;
    INFO("202: " << statuses[202] << " of " << total);
    CHECK(statuses[202] == total);  // consumers dying never reaches the clients
    REQUIRE(ids.size() > 100);
    REQUIRE(Eventually([&] { return AllNotified(ingress, ids); }, 60s, 500ms));
    for (const auto& id : ids) {
        const auto body =
            HttpCall("GET", r.notification[1]->Port(), "/notifications?order_id=" + id).body;
        REQUIRE(body.find("\"order_id\"") != std::string::npos);
        CHECK(body.find("\"order_id\"") == body.rfind("\"order_id\""));
    }
    // Every order reserved once (no 503s were published: the broker stayed up).
    CHECK(StockOf(r.inventory[1]->Port(), "widget") == 100000 - static_cast<int64_t>(ids.size()));
}
