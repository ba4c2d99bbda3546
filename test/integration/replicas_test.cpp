// Replicas on one PostgreSQL database (SPEC section 9): competing inventory replicas never
// oversell, a message id's effect happens once across replicas, an Idempotency-Key means the
// same on every ingress replica, and the outbox of a replica that died after its commit is
// published by another. PostgreSQL only: skipped when scripts/test.sh started none.
#include <fmt/format.h>
#include <fmt/ranges.h>

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
#include "store/postgres/connection.hpp"
#include "support.hpp"

using namespace orderflow;
using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

bool HavePostgres() { return StoreBackends().size() > 1; }

// Replica tests need a PostgreSQL (scripts/test.sh starts one); without it they say so.
#define SKIP_WITHOUT_POSTGRES()                                           \
    do {                                                                  \
        if (!HavePostgres()) {                                            \
            WARN("no PostgreSQL (ORDERFLOW_TEST_DATABASE_URL): skipped"); \
            return;                                                       \
        }                                                                 \
    } while (false)

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
    // One inventory, one notification and `ingresses` ingress replicas, started.
    void StartWithIngresses(int ingresses) {
        AddInventory();
        AddNotification();
        for (int i = 0; i < ingresses; ++i) AddIngress();
        StartAll();
    }
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

// Clients posting one-widget orders to `port` until stopped, `pause` between two posts of
// one client: the order ids of the 202s and how many answers of each status.
class Clients final {
  public:
    Clients(uint16_t port, int threads, std::chrono::milliseconds pause) {
        for (int t = 0; t < threads; ++t) {
            threads_.emplace_back([this, port, t, pause] {
                for (int i = 0; !stop_; ++i) {
                    auto answer = PostOrder(port, fmt::format("k{}-{}", t, i), {{"widget", 1}});
                    {
                        std::lock_guard lock(mutex_);
                        ++statuses_[answer.status];
                        if (answer.status == 202)
                            ids_.push_back(JsonField(answer.body, "order_id"));
                    }
                    std::this_thread::sleep_for(pause);
                }
            });
        }
    }
    ~Clients() { Stop(); }
    Clients(const Clients&) = delete;
    Clients& operator=(const Clients&) = delete;
    void Stop() {
        stop_ = true;
        for (auto& thread : threads_) {
            if (thread.joinable()) thread.join();
        }
    }
    std::vector<std::string> Accepted() {
        std::lock_guard lock(mutex_);
        return ids_;
    }
    std::map<int, int> Statuses() {
        std::lock_guard lock(mutex_);
        return statuses_;
    }

  private:
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::vector<std::string> ids_;
    std::map<int, int> statuses_;
    std::vector<std::thread> threads_;
};

// Every one of `ids` reaches notified, with exactly one notification.
void RequireNotifiedOnce(uint16_t ingress_port, uint16_t notification_port,
                         const std::vector<std::string>& ids) {
    REQUIRE(Eventually([&] { return AllNotified(ingress_port, ids); }, 60s, 500ms));
    for (const auto& id : ids) {
        INFO("order " << id);
        CHECK(NotificationCount(notification_port, id) == 1);
    }
}

void RequireNoDeadLetters(const Vhost& vhost) {
    auto client = broker::Client::Connect(Options(vhost));
    REQUIRE(client);
    for (const auto& queue :
         {broker::kInventoryQueue, broker::kNotificationQueue, broker::kOrderStatusQueue}) {
        auto info = client->Inspect(broker::DeadLetterQueue(queue));
        REQUIRE(info);
        REQUIRE(*info);
        CHECK((*info)->messages == 0);
    }
}

}  // namespace

TEST_CASE(
    "replicas: 3 inventory and 2 ingress replicas sell exactly 100 of 100 units to 1000 buyers",
    "[replicas]") {
    SKIP_WITHOUT_POSTGRES();
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
    for (auto& inventory : r.inventory) CHECK(StockLevel(inventory->Port(), "ticket") == 0);
}

TEST_CASE("replicas: one message id delivered to two inventory replicas at once changes stock once",
          "[replicas]") {
    SKIP_WITHOUT_POSTGRES();
    // Prefetch 1: the copies spread over both replicas instead of queueing at one.
    Replicas r(std::map<std::string, std::string>{{"ORDERFLOW_PREFETCH", "1"}});
    r.AddInventory();
    r.AddInventory();
    r.AddNotification();
    r.AddIngress();
    r.StartAll();
    const auto before = StockLevel(r.inventory[0]->Port(), "pizza");
    auto client = broker::Client::Connect(Options(r.vhost));
    REQUIRE(client);
    const std::string event_id = events::NewUuid();
    const std::string order_id = events::NewUuid();
    for (int i = 0; i < 40; ++i) {
        REQUIRE(client->Publish(OrderPlacedEvent(event_id, order_id, "dup", "pizza")) ==
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
    CHECK(StockLevel(r.inventory[0]->Port(), "pizza") == before - 1);
    CHECK(StockLevel(r.inventory[1]->Port(), "pizza") == before - 1);
    CHECK(NotificationCount(r.notification[0]->Port(), order_id) == 1);
    // Both replicas saw copies: the claim, not chance, kept the effect single.
    const auto dup0 = r.inventory[0]->Log().find("duplicate") != std::string::npos;
    const auto dup1 = r.inventory[1]->Log().find("duplicate") != std::string::npos;
    CHECK((dup0 || dup1));
}

TEST_CASE("replicas: one Idempotency-Key sent concurrently to two ingress replicas makes one order",
          "[replicas]") {
    SKIP_WITHOUT_POSTGRES();
    Replicas r;
    r.StartWithIngresses(2);
    const auto before = StockLevel(r.inventory[0]->Port(), "salad");
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
    CHECK(StockLevel(r.inventory[0]->Port(), "salad") == before - 1);
}

// Freezes the test's RabbitMQ node (SIGSTOP of its beam process) until destroyed: publishes
// then wait for their confirms, so a POST stays in flight.
class FrozenBroker final {
  public:
    FrozenBroker() {
        std::ifstream file(std::filesystem::path(Env("ORDERFLOW_TEST_BROKER_DIR")) /
                           "rabbitmq.pid");
        file >> pid_;
        REQUIRE(pid_ > 0);
        // Thawed after 30 s whatever happens to this process (a ctest timeout kills it
        // without unwinding): the tests after this one need the node.
        REQUIRE(std::system(
                    fmt::format("(sleep 30; kill -CONT {}) >/dev/null 2>&1 &", pid_).c_str()) == 0);
        REQUIRE(::kill(pid_, SIGSTOP) == 0);
    }
    ~FrozenBroker() { Thaw(); }
    FrozenBroker(const FrozenBroker&) = delete;
    FrozenBroker& operator=(const FrozenBroker&) = delete;
    void Thaw() {
        if (pid_ > 0) ::kill(pid_, SIGCONT);
        pid_ = -1;
    }

  private:
    pid_t pid_ = -1;
};

TEST_CASE(
    "replicas: a repeat of an Idempotency-Key while the first request is in flight gets 409 "
    "on either replica, and the first answer after it",
    "[replicas]") {
    SKIP_WITHOUT_POSTGRES();
    Replicas r;
    r.StartWithIngresses(2);
    const std::string key = "key-" + NewId();
    const std::vector<std::pair<std::string, std::string>> keyed{{"Idempotency-Key", key}};
    HttpResult first;
    std::jthread sender;  // joined after the broker is thawed, also when a REQUIRE throws
    {
        // The first request claims the key, publishes, and waits for a confirm the frozen
        // broker does not send.
        FrozenBroker frozen;
        sender = std::jthread([&] {
            first = PostOrder(r.ingress[0]->Port(), "keyed", {{"salad", 1}}, keyed);
        });
        // Claimed when the key's mark is in the shared database: then repeats on either
        // replica are answered 409 at once, not held until the first one ends.
        store::postgres::Connection db(r.env.at("ORDERFLOW_DATABASE_URL"), "ingress");
        REQUIRE(Eventually(
            [&] {
                return db.Exec("SELECT count(*) FROM idempotency_keys WHERE key = $1", {key})
                           .Int64(0, 0) == 1;
            },
            10s, 20ms));
        for (auto& ingress : r.ingress) {
            const auto repeat = HttpCall(
                "POST", ingress->Port(), "/orders", R"({"user_id":"keyed","items":{"salad":1}})",
                {{"Content-Type", "application/json"}, {"Idempotency-Key", key}}, 5s);
            INFO("replica on port " << ingress->Port() << ": " << repeat.status << " "
                                    << repeat.body);
            CHECK(repeat.status == 409);
            CHECK(JsonField(repeat.body, "code") == "REQUEST_IN_PROGRESS");
        }
        frozen.Thaw();
    }
    sender.join();
    INFO(first.body);
    REQUIRE(first.status == 202);
    const auto order_id = JsonField(first.body, "order_id");
    for (auto& ingress : r.ingress) {
        auto again = PostOrder(ingress->Port(), "keyed", {{"salad", 1}}, keyed);
        CHECK(again.status == 202);
        CHECK(JsonField(again.body, "order_id") == order_id);
    }
    CHECK(Eventually([&] { return StatusOf(r.ingress[1]->Port(), order_id) == "notified"; }, 30s));
}

TEST_CASE(
    "replicas: events a replica committed but died before publishing are published by another "
    "within 15 s",
    "[replicas]") {
    SKIP_WITHOUT_POSTGRES();
    Replicas r;
    auto& doomed =
        r.AddInventory({{"ORDERFLOW_TEST_CRASH_AFTER_COMMIT_MARKER", "crash-after-commit"}});
    r.AddNotification();
    r.AddIngress();
    r.StartAll();
    const auto before = StockLevel(doomed.Port(), "soda");
    auto client = broker::Client::Connect(Options(r.vhost));
    REQUIRE(client);
    const std::string order_id = events::NewUuid();
    REQUIRE(client->Publish(OrderPlacedEvent(events::NewUuid(), order_id, "crash-after-commit",
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
    CHECK(StockLevel(heir.Port(), "soda") == before - 1);
    CHECK(heir.Log().find("duplicate") != std::string::npos);
}

TEST_CASE(
    "replicas: outbox rows a dead replica's relay still had claimed are published by a running "
    "replica once the claim runs out, within 15 s",
    "[replicas]") {
    SKIP_WITHOUT_POSTGRES();
    Replicas r;
    auto& doomed =
        r.AddInventory({{"ORDERFLOW_TEST_CRASH_AFTER_COMMIT_MARKER", "crash-after-commit"}});
    auto& heir = r.AddInventory();
    r.AddNotification();
    r.AddIngress();
    r.StartAll();
    const auto ingress = r.ingress[0]->Port();
    const auto before = StockLevel(heir.Port(), "soda");
    // The heir is frozen, so that nothing it does comes between the death and the claim below;
    // orders go out one at a time until one reaches the doomed replica (round robin). Those
    // the heir was given wait in its socket and are handled when it thaws.
    heir.Kill(SIGSTOP);
    auto client = broker::Client::Connect(Options(r.vhost));
    REQUIRE(client);
    std::vector<std::string> orders;
    for (int i = 0; i < 6 && doomed.Running(); ++i) {
        orders.push_back(events::NewUuid());
        REQUIRE(client->Publish(OrderPlacedEvent(events::NewUuid(), orders.back(),
                                                 "crash-after-commit", "soda")) ==
                broker::PublishStatus::kConfirmed);
        (void)Eventually([&] { return !doomed.Running(); }, 5s);
    }
    REQUIRE_FALSE(doomed.Running());  // it aborted after committing
    // As if its relay had claimed its rows just before it died: the lease (10 s) holds them
    // from every other relay until it runs out; then only a relay's periodic look at the
    // outbox finds them, for nothing else happens on the heir by then.
    store::postgres::Connection db(r.env.at("ORDERFLOW_DATABASE_URL"), "inventory");
    // The crashed order is the one whose event the doomed replica committed: the only row
    // in the outbox (the heir, frozen, committed nothing). Another order published before
    // the death may have gone to the doomed replica uncommitted, and comes back to the heir.
    const auto rows = db.Exec("SELECT correlation_id FROM outbox");
    REQUIRE(rows.Count() == 1);
    const auto crashed = rows.Text(0, 0);
    const auto claimed = db.Exec(
        "UPDATE outbox SET claimed_until = "
        "(extract(epoch from clock_timestamp()) * 1000)::bigint + 10000");
    REQUIRE(claimed.Affected() >= 1);
    const auto start = std::chrono::steady_clock::now();
    heir.Kill(SIGCONT);
    REQUIRE(heir.WaitReady());
    // Claimed rows are not taken early: 7 s on, the order is still not notified.
    std::this_thread::sleep_until(start + 7s);
    CHECK(StatusOf(ingress, crashed) != "notified");
    REQUIRE(Eventually([&] { return StatusOf(ingress, crashed) == "notified"; }, 20s, 200ms));
    const auto took = std::chrono::steady_clock::now() - start;
    INFO("notified " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                     << " ms after the claim");
    CHECK(took < 15s);
    // Every order once: reserved once each, one notification each.
    RequireNotifiedOnce(ingress, r.notification[0]->Port(), orders);
    CHECK(StockLevel(heir.Port(), "soda") == before - static_cast<int64_t>(orders.size()));
    RequireNoDeadLetters(r.vhost);
}

TEST_CASE(
    "replicas: PostgreSQL stopped for 20 s under load: 503s meanwhile, nothing dead-lettered, "
    "every 202 notified once and counted once by analytics",
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
    Service analytics("orderflow-analytics", r.env, r.dir / "analytics");
    analytics.Start();
    REQUIRE(analytics.WaitReady());

    Clients load(ingress, 1, 20ms);
    auto ready = [&](Service& service) {
        return HttpCall("GET", service.Port(), "/readyz", {}, {}, 2s).status == 200;
    };
    std::this_thread::sleep_for(2s);
    REQUIRE(std::system((pg + " stop --dir " + pg_dir).c_str()) == 0);
    const auto stopped = std::chrono::steady_clock::now();
    CHECK(Eventually(
        [&] {
            return !ready(*r.ingress[0]) && !ready(*r.inventory[0]) && !ready(*r.notification[0]) &&
                   !ready(analytics);
        },
        10s));
    const auto stats_down = HttpCall("GET", analytics.Port(), "/stats");
    CHECK(stats_down.status == 503);
    CHECK(JsonField(stats_down.body, "code") == "STORE_UNAVAILABLE");
    CHECK(stats_down.headers.count("retry-after") == 1);
    // Deliveries during the outage, one for each consumer, held until the database is back:
    // an OrderPlaced (inventory) and an InventoryReserved (notification and the ingress's
    // order status) published straight to the broker.
    auto broker_client = broker::Client::Connect(Options(r.vhost));
    REQUIRE(broker_client);
    const auto placed_id = events::NewUuid();
    REQUIRE(
        broker_client->Publish(OrderPlacedEvent(events::NewUuid(), placed_id, "held", "widget")) ==
        broker::PublishStatus::kConfirmed);
    const auto reserved_order = events::NewUuid();
    REQUIRE(broker_client->Publish(
                InventoryReservedEvent(events::NewUuid(), reserved_order, "held", "widget")) ==
            broker::PublishStatus::kConfirmed);
    const std::string holding = "store unavailable; holding the batch";
    CHECK(Eventually(
        [&] {
            return r.inventory[0]->Log().find(holding) != std::string::npos &&
                   r.notification[0]->Log().find(holding) != std::string::npos &&
                   r.ingress[0]->Log().find(holding) != std::string::npos;
        },
        10s));
    // What a client of the ingress is told (SPEC 9): 503 STORE_UNAVAILABLE with Retry-After.
    const auto refused = PostOrder(ingress, "during-outage", {{"widget", 1}});
    CHECK(refused.status == 503);
    CHECK(JsonField(refused.body, "code") == "STORE_UNAVAILABLE");
    CHECK(refused.headers.count("retry-after") == 1);
    std::this_thread::sleep_until(stopped + 20s);
    const int unavailable = load.Statuses()[503];
    REQUIRE(std::system((pg + " start --dir " + pg_dir + " >/dev/null").c_str()) == 0);
    const auto started = std::chrono::steady_clock::now();
    CHECK(Eventually(
        [&] {
            return ready(*r.ingress[0]) && ready(*r.inventory[0]) && ready(*r.notification[0]) &&
                   ready(analytics);
        },
        10s, 200ms));
    const auto back = std::chrono::steady_clock::now() - started;
    std::this_thread::sleep_for(2s);
    load.Stop();
    auto statuses = load.Statuses();
    const auto ids = load.Accepted();

    INFO("202: " << statuses[202] << ", 503: " << statuses[503] << ", ready again after "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(back).count() << " ms");
    CHECK(unavailable > 0);
    CHECK(back < 10s);
    for (const auto& [status, count] : statuses) CHECK((status == 202 || status == 503));
    RequireNotifiedOnce(ingress, r.notification[0]->Port(), ids);
    // The held deliveries were handled once the database was back, each once.
    CHECK(Eventually([&] { return NotificationCount(r.notification[0]->Port(), placed_id) == 1; },
                     30s));
    CHECK(NotificationCount(r.notification[0]->Port(), reserved_order) == 1);
    CHECK(Eventually(
        [&] {
            return StatusOf(ingress, reserved_order) == "notified" &&
                   StatusOf(ingress, placed_id) == "notified";
        },
        30s));
    RequireNoDeadLetters(r.vhost);
    // Held, never retried through the delay queues, by any consumer.
    for (const auto* service :
         {r.inventory[0].get(), r.notification[0].get(), r.ingress[0].get()}) {
        CHECK(Sample(Scrape(*service), "orderflow_messages_retried_total") == 0);
    }
    // Analytics held the stream while the database was away: every order placed (the 503s
    // published nothing; the held OrderPlaced is one more) counted once.
    std::string stats;
    CHECK(Eventually(
        [&] {
            stats = HttpCall("GET", analytics.Port(), "/stats").body;
            return JsonField(stats, "total_orders") == std::to_string(ids.size() + 1);
        },
        30s, 500ms));
    INFO(stats);
    CHECK(JsonField(stats, "failed_orders") == "0");
}

TEST_CASE(
    "replicas: SIGKILL of one replica of each consumer under load: every accepted order notified "
    "exactly once",
    "[replicas]") {
    SKIP_WITHOUT_POSTGRES();
    Replicas r;
    const auto seed = WriteSeed(r.dir, R"({"widget":100000})");
    r.AddInventory({{"ORDERFLOW_INVENTORY_SEED", seed.string()}});
    r.AddInventory({{"ORDERFLOW_INVENTORY_SEED", seed.string()}});
    r.AddNotification();
    r.AddNotification();
    r.AddIngress();
    r.StartAll();
    const auto ingress = r.ingress[0]->Port();

    Clients load(ingress, 4, 0ms);
    std::this_thread::sleep_for(2s);
    r.inventory[0]->Kill(SIGKILL);
    r.notification[0]->Kill(SIGKILL);
    std::this_thread::sleep_for(3s);
    load.Stop();
    auto statuses = load.Statuses();
    const auto ids = load.Accepted();
    int total = 0;
    for (const auto& [status, count] : statuses) total += count;
    INFO("202: " << statuses[202] << " of " << total);
    CHECK(statuses[202] == total);  // consumers dying never reaches the clients
    REQUIRE(ids.size() > 100);
    RequireNotifiedOnce(ingress, r.notification[1]->Port(), ids);
    // Every order reserved once (no 503s were published: the broker stayed up).
    CHECK(StockLevel(r.inventory[1]->Port(), "widget") ==
          100000 - static_cast<int64_t>(ids.size()));
}

TEST_CASE("replicas: GET answers are the same on every replica", "[replicas]") {
    SKIP_WITHOUT_POSTGRES();
    Replicas r;
    r.AddInventory();
    r.AddInventory();
    r.AddNotification();
    r.AddNotification();
    r.AddIngress();
    r.AddIngress();
    r.StartAll();
    // Keyed orders placed through each ingress replica in turn, one of them rejected.
    struct Placed {
        std::string key, user, sku, order_id, answer;
    };
    std::vector<Placed> placed;
    std::vector<std::string> ids;
    for (int i = 0; i < 10; ++i) {
        Placed order{"get-" + NewId(),
                     "reader" + std::to_string(i),
                     i == 9 ? "nosuchsku" : "burger",
                     {},
                     {}};
        auto answer = PostOrder(r.ingress[static_cast<size_t>(i % 2)]->Port(), order.user,
                                {{order.sku, 1}}, {{"Idempotency-Key", order.key}});
        REQUIRE(answer.status == 202);
        order.order_id = JsonField(answer.body, "order_id");
        order.answer = answer.body;
        ids.push_back(order.order_id);
        placed.push_back(std::move(order));
    }
    for (auto& ingress : r.ingress) {
        REQUIRE(Eventually([&] { return AllNotified(ingress->Port(), ids); }, 30s, 250ms));
    }
    // Asks every replica of `group`; each must give the first one's status and body.
    const auto same = [](const std::vector<std::unique_ptr<Service>>& group,
                         const std::string& target) {
        const auto first = HttpCall("GET", group.front()->Port(), target);
        for (size_t i = 1; i < group.size(); ++i) {
            INFO("GET " << target << " on replica " << i + 1);
            const auto other = HttpCall("GET", group[i]->Port(), target);
            CHECK(other.status == first.status);
            CHECK(other.body == first.body);
        }
        return first;
    };
    for (const auto& order : placed) {
        const auto view = same(r.ingress, "/orders/" + order.order_id);
        CHECK(view.status == 200);
        CHECK(JsonField(view.body, "outcome") ==
              (order.sku == "burger" ? "confirmed" : "rejected"));
        const auto notes = same(r.notification, "/notifications?order_id=" + order.order_id);
        CHECK(Occurrences(notes.body, "\"order_id\"") == 1);
    }
    CHECK(same(r.ingress, "/orders/" + events::NewUuid()).status == 404);
    CHECK(same(r.ingress, "/orders/not-a-uuid").status == 404);
    CHECK(JsonField(same(r.inventory, "/inventory").body, "burger") == "91");
    // An Idempotency-Key answers the same on every replica: the first answer, byte for byte.
    for (const auto& order : placed) {
        for (auto& ingress : r.ingress) {
            auto again = PostOrder(ingress->Port(), order.user, {{order.sku, 1}},
                                   {{"Idempotency-Key", order.key}});
            CHECK(again.status == 202);
            CHECK(again.body == order.answer);
        }
    }
}

TEST_CASE(
    "replicas: an ingress replica SIGKILLed behind nginx - clients retrying with their "
    "Idempotency-Key get one order each, notified once",
    "[replicas][nginx]") {
    SKIP_WITHOUT_POSTGRES();
    const std::string nginx_bin = "/usr/sbin/nginx";
    if (!std::filesystem::exists(nginx_bin)) {
        WARN("no nginx (apt-get install nginx-light): skipped");
        return;
    }
    using Clock = std::chrono::steady_clock;
    constexpr int64_t kStock = 1000000;
    Replicas r;
    const auto seed = WriteSeed(r.dir, fmt::format(R"({{"widget":{}}})", kStock));
    r.AddInventory({{"ORDERFLOW_INVENTORY_SEED", seed.string()}});
    r.AddNotification();
    r.AddIngress();
    r.AddIngress();
    r.StartAll();

    // The nginx of `up.sh --scale` (lib.sh's write_nginx_conf) in front of both replicas.
    const auto nginx_dir = r.dir / "nginx";
    Service nginx(
        nginx_bin, {}, nginx_dir,
        {"-p", nginx_dir.string(), "-c", (nginx_dir / "nginx.conf").string(), "-g", "daemon off;"});
    const auto spec =
        fmt::format("ingress:{}:{},{}", nginx.Port(), r.ingress[0]->Port(), r.ingress[1]->Port());
    REQUIRE(std::system(fmt::format("bash -c 'source \"$1\" && write_nginx_conf \"$2\" \"$3\"' "
                                    "replicas-test '{}/scripts/lib.sh' '{}' '{}'",
                                    ORDERFLOW_SOURCE_DIR, nginx_dir.string(), spec)
                            .c_str()) == 0);
    nginx.Start();
    struct Graceful {  // SIGTERM: a killed nginx master would leave its worker behind
        Service& process;
        ~Graceful() {
            process.Kill(SIGTERM);
            process.Wait(10s);
        }
    } stop_nginx{nginx};
    REQUIRE(nginx.WaitReady());

    struct Keyed {
        std::string key;
        std::string order_id;
        int failed = 0;  // answers before the 202
    };
    std::mutex mutex;
    std::vector<Keyed> done;
    std::vector<std::string> problems;
    std::map<int, int> failures;  // status -> count
    std::vector<Clock::time_point> failed_at;
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 8; ++t) {
        clients.emplace_back([&, t] {
            const auto user = "lb-" + std::to_string(t);
            while (!stop) {
                Keyed keyed{"lb-" + NewId(), {}, 0};
                const auto give_up = Clock::now() + 60s;
                while (keyed.order_id.empty() && Clock::now() < give_up) {
                    auto answer = PostOrder(nginx.Port(), user, {{"widget", 1}},
                                            {{"Idempotency-Key", keyed.key}});
                    if (answer.status == 202) {
                        keyed.order_id = JsonField(answer.body, "order_id");
                        break;
                    }
                    std::lock_guard lock(mutex);
                    if (answer.status != 502 && answer.status != 503 && answer.status != 409) {
                        problems.push_back(
                            fmt::format("{}: {} {}", keyed.key, answer.status, answer.body));
                        return;
                    }
                    ++keyed.failed;
                    ++failures[answer.status];
                    failed_at.push_back(Clock::now());
                    std::this_thread::sleep_for(50ms);  // then the same key again
                }
                std::lock_guard lock(mutex);
                if (keyed.order_id.empty()) {
                    problems.push_back(keyed.key + ": no 202 within 60 s");
                    return;
                }
                done.push_back(std::move(keyed));
            }
        });
    }
    const auto finished = [&] {
        std::lock_guard lock(mutex);
        return done.size();
    };
    REQUIRE(Eventually([&] { return finished() >= 200; }, 30s));
    r.ingress[0]->Kill(SIGKILL);
    const auto killed = Clock::now();
    const auto at_kill = finished();
    REQUIRE(Eventually([&] { return finished() >= at_kill + 200; }, 30s));
    stop = true;
    for (auto& client : clients) client.join();

    INFO(fmt::format("problems: {}", fmt::join(problems, "; ")));
    REQUIRE(problems.empty());
    std::set<std::string> orders;
    int retried = 0;
    std::vector<std::string> ids;
    for (const auto& keyed : done) {
        orders.insert(keyed.order_id);
        ids.push_back(keyed.order_id);
        retried += keyed.failed > 0;
    }
    REQUIRE(orders.size() == done.size());  // one order per key
    int failed = 0;
    for (const auto& [status, count] : failures) failed += count;
    const auto ms = [&](Clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(t - killed).count();
    };
    WARN(done.size() << " keyed orders through nginx, ingress replica 1 SIGKILLed: " << failed
                     << " failed requests (502: " << failures[502] << ", 503: " << failures[503]
                     << ", 409: " << failures[409] << ") of " << retried << " keys, "
                     << (failed_at.empty()
                             ? std::string("no failure window")
                             : fmt::format(
                                   "from {} ms to {} ms after the kill",
                                   ms(*std::min_element(failed_at.begin(), failed_at.end())),
                                   ms(*std::max_element(failed_at.begin(), failed_at.end())))));
    RequireNotifiedOnce(r.ingress[1]->Port(), r.notification[0]->Port(), ids);
    // Nothing else was ordered: an event the dead replica published without answering is
    // the one its key's retry published again (inventory dropped the copy), not a second.
    std::this_thread::sleep_for(2s);
    CHECK(kStock - StockLevel(r.inventory[0]->Port(), "widget") ==
          static_cast<int64_t>(done.size()));
    RequireNoDeadLetters(r.vhost);
}
