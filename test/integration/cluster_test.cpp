// Losing a node of a 3-node RabbitMQ cluster under load (SPEC 9), with the real services.
//
// Hidden tests ([.cluster]): they need the cluster that test/cluster/run.sh starts with
// scripts/cluster.sh (ctest label `cluster`); ORDERFLOW_TEST_AMQP_URL and
// ORDERFLOW_TEST_MGMT_URL then list every node, ORDERFLOW_TEST_CLUSTER_DIR is the cluster.
// Each test kills, pauses or restarts nodes of that cluster and leaves all of them running.
#include <SQLiteCpp/Database.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "order_load.hpp"
#include "support.hpp"

using namespace orderflow::test;
namespace broker = orderflow::broker;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// scripts/cluster.sh on the test cluster; the guard restarts what a test killed or paused,
// a failed REQUIRE included, because the tests after it need three nodes.
class ClusterNodes final {
  public:
    ClusterNodes() : dir_(Env("ORDERFLOW_TEST_CLUSTER_DIR")) {}
    ~ClusterNodes() {
        for (int node : paused_) Run("resume", node);
        for (int node : killed_) Run("restart", node);
    }
    ClusterNodes(const ClusterNodes&) = delete;
    ClusterNodes& operator=(const ClusterNodes&) = delete;

    // The node number (1..3) of an Erlang node name, from the cluster's env file.
    int NumberOf(const std::string& erlang_name) const {
        std::ifstream env(dir_ + "/cluster.env");
        for (std::string line; std::getline(env, line);) {
            const std::string prefix = "ORDERFLOW_CLUSTER_NODE_";
            if (!line.starts_with(prefix)) continue;
            const auto equals = line.find('=');
            if (line.substr(equals + 1) == erlang_name) {
                return std::stoi(line.substr(prefix.size(), equals - prefix.size()));
            }
        }
        return 0;
    }
    void Kill(int node) {
        killed_.insert(node);
        REQUIRE(Run("kill", node));
    }
    void Pause(int node) {
        paused_.insert(node);
        REQUIRE(Run("pause", node));
    }
    void Resume(int node) {
        REQUIRE(Run("resume", node));
        paused_.erase(node);
    }
    void Restart(int node) {
        REQUIRE(Run("restart", node));
        killed_.erase(node);
    }

  private:
    bool Run(const char* command, int node) const {
        const auto line =
            fmt::format("'{}/scripts/cluster.sh' {} {} --dir '{}' >>'{}/test.log' 2>&1",
                        ORDERFLOW_SOURCE_DIR, command, node, dir_, dir_);
        return std::system(line.c_str()) == 0;
    }
    std::string dir_;
    std::set<int> killed_;
    std::set<int> paused_;
};

// The Erlang node leading a quorum queue of `vhost` (management API), empty if unknown.
std::string LeaderOf(const Vhost& vhost, const std::string& queue) {
    const auto answer = MgmtCall("GET", "/api/queues/" + vhost.Name() + "/" + queue, "");
    return answer.status == 200 ? JsonField(answer.body, "leader") : std::string();
}

// How many nodes hold a replica of the quorum queue `queue` (the management API's
// "members"), 0 if unknown.
size_t MembersOf(const Vhost& vhost, const std::string& queue) {
    const auto body = MgmtCall("GET", "/api/queues/" + vhost.Name() + "/" + queue, "").body;
    const auto start = body.find("\"members\":[");
    if (start == std::string::npos) return 0;
    const auto end = body.find(']', start);
    return static_cast<size_t>(std::count(body.begin() + static_cast<std::ptrdiff_t>(start),
                                          body.begin() + static_cast<std::ptrdiff_t>(end), '@'));
}

// Ready messages in `queue` (a passive declare through any node: the management API's
// figures of a queue lag, and vanish for a while when its leader dies), -1 if unknown.
int64_t Depth(const Vhost& vhost, const std::string& queue) {
    broker::ConnectionOptions options;
    options.url = vhost.AmqpUrl();
    auto client = broker::Client::Connect(options);
    if (!client) return -1;
    auto info = client->Inspect(broker::QueueName{queue});
    return info && *info ? static_cast<int64_t>((*info)->messages) : -1;
}

class Seed final {
  public:
    explicit Seed(int64_t widgets)
        : dir_(std::filesystem::temp_directory_path() / ("orderflow-cluster-" + NewId())) {
        std::filesystem::create_directories(dir_);
        std::ofstream(dir_ / "seed.json") << fmt::format(R"({{"widget":{}}})", widgets);
    }
    ~Seed() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    std::string Path() const { return (dir_ / "seed.json").string(); }

  private:
    std::filesystem::path dir_;
};

// Inventory, notification and two ingress replicas (each with a data dir of its own: on
// SQLite the Idempotency-Key state is per replica, which these tests do not use).
struct ClusterPipeline {
    explicit ClusterPipeline(std::map<std::string, std::string> inventory_env = {})
        : dir(std::filesystem::temp_directory_path() / ("orderflow-cluster-it-" + NewId())),
          seed(1'000'000),
          inventory("orderflow-inventory", With(ServiceEnv("inventory"), inventory_env),
                    dir / "inventory"),
          notification("orderflow-notification", ServiceEnv("notification"), dir / "notification"),
          ingress1("orderflow-ingress", ServiceEnv("ingress1"), dir / "ingress1"),
          ingress2("orderflow-ingress", ServiceEnv("ingress2"), dir / "ingress2") {}

    std::map<std::string, std::string> ServiceEnv(const std::string& name) const {
        std::filesystem::create_directories(dir / name);
        return {{"ORDERFLOW_AMQP_URL", vhost.AmqpUrl()},
                {"ORDERFLOW_DATA_DIR", (dir / name).string()},
                {"ORDERFLOW_INVENTORY_SEED", seed.Path()},
                {"ORDERFLOW_RETRY_DELAYS_MS", "1000,4000"},
                {"ORDERFLOW_MAX_ATTEMPTS", "3"}};
    }
    static std::map<std::string, std::string> With(std::map<std::string, std::string> env,
                                                   const std::map<std::string, std::string>& more) {
        for (const auto& [k, v] : more) env[k] = v;
        return env;
    }
    void StartAll() {
        for (auto* service : All()) service->Start();
        for (auto* service : All()) REQUIRE(service->WaitReady(60s));
    }
    std::vector<Service*> All() { return {&inventory, &notification, &ingress1, &ingress2}; }
    bool AllReady() {
        for (auto* service : All()) {
            if (HttpCall("GET", service->Port(), "/readyz", {}, {}, 2s).status != 200) return false;
        }
        return true;
    }
    int64_t Widgets() {
        const auto value =
            JsonField(HttpCall("GET", inventory.Port(), "/inventory").body, "widget");
        return value.empty() ? -1 : std::stoll(value);
    }
    // Notifications per order, from notification's own store.
    std::map<std::string, int> Notified() const {
        SQLite::Database db((dir / "notification" / "notification.db").string(),
                            SQLite::OPEN_READONLY);
        db.setBusyTimeout(5000);
        SQLite::Statement query(db, "SELECT order_id, COUNT(*) FROM notifications GROUP BY 1");
        std::map<std::string, int> out;
        while (query.executeStep()) out[query.getColumn(0).getString()] = query.getColumn(1);
        return out;
    }

    Vhost vhost;
    std::filesystem::path dir;
    Seed seed;
    Service inventory;
    Service notification;
    Service ingress1;
    Service ingress2;
};

// Starts the services and four clients posting one-widget orders to both ingress replicas
// in turn (in `load`, until stopped); returns the node leading inventory.order-placed once
// 500 orders were accepted.
int LeaderUnderLoad(const ClusterNodes& nodes, ClusterPipeline& p, std::optional<OrderLoad>& load) {
    p.StartAll();
    const auto leader = nodes.NumberOf(LeaderOf(p.vhost, "inventory.order-placed"));
    REQUIRE(leader > 0);
    // SPEC 9: every quorum queue has a replica on each of the three nodes.
    for (const std::string queue :
         {"inventory.order-placed", "inventory.order-placed.dlq", "inventory.order-placed.retry.1",
          "notification.inventory-events", "ingress.order-status"}) {
        INFO("queue " << queue);
        CHECK(MembersOf(p.vhost, queue) == 3);
    }
    load.emplace(OrderLoad::Options{.ports = {p.ingress1.Port(), p.ingress2.Port()},
                                    .threads = 4,
                                    .user_prefix = "cluster",
                                    .pause_after_error = 50ms});  // a client backs off a little
    REQUIRE(Eventually([&] { return load->AcceptedSince() >= 500; }, 120s));
    return leader;
}

// Everything the node-loss tests check once the load has stopped: every 202 notified once,
// the stock exact, no dead letter, only 503 BROKER_UNAVAILABLE otherwise and only within a
// bounded window around the fault, every service ready again. Reports the window.
void CheckNothingLostOrDoubled(ClusterPipeline& p, const std::vector<OrderAnswer>& answers,
                               Clock::time_point fault, const char* what) {
    std::set<std::string> accepted;
    size_t unavailable = 0, in_flight = 0;
    std::optional<Clock::time_point> first_503, last_503;
    Clock::duration slowest{};
    for (const auto& answer : answers) {
        slowest = std::max(slowest, answer.latency);
        if (answer.status == 202) {
            REQUIRE_FALSE(answer.order_id.empty());
            accepted.insert(answer.order_id);
            continue;
        }
        INFO("answer " << answer.status << " " << answer.code);
        REQUIRE(answer.status == 503);
        REQUIRE(answer.code == "BROKER_UNAVAILABLE");
        ++unavailable;
        in_flight += answer.InFlight() ? 1 : 0;
        if (!first_503) first_503 = answer.at;
        last_503 = answer.at;
    }
    REQUIRE(accepted.size() >= 2000);

    std::map<std::string, int> notified;
    const bool all = Eventually(
        [&] {
            notified = p.Notified();
            return std::all_of(accepted.begin(), accepted.end(),
                               [&](const auto& id) { return notified.contains(id); });
        },
        180s, 1s);
    size_t missing = 0;
    for (const auto& id : accepted) missing += notified.contains(id) ? 0 : 1;
    INFO(missing << " of " << accepted.size() << " accepted orders never notified");
    CHECK(all);
    std::this_thread::sleep_for(2s);  // a late duplicate would show now
    notified = p.Notified();
    size_t doubled = 0, unanswered = 0;
    for (const auto& [id, count] : notified) {
        doubled += count > 1 ? 1 : 0;
        unanswered += accepted.contains(id) ? 0 : 1;
    }
    CHECK(doubled == 0);
    // A publish whose confirm was lost with its node was answered 503 but may have been
    // enqueued: such orders are handled (once) without a 202, never more than those 503s.
    CHECK(unanswered <= in_flight);
    CHECK(1'000'000 - p.Widgets() == static_cast<int64_t>(notified.size()));
    for (const auto& queue :
         {"inventory.order-placed", "notification.inventory-events", "ingress.order-status"}) {
        CHECK(Depth(p.vhost, std::string(queue) + ".dlq") == 0);
    }
    CHECK(Eventually([&] { return p.AllReady(); }, 60s));
    for (auto* service : p.All()) CHECK(service->Running());

    const double window = first_503 ? Seconds(*last_503 - *first_503) : 0.0;  // first to last 503
    WARN(what << ": " << accepted.size() << " orders accepted, " << unavailable << " answered 503 ("
              << in_flight << " in flight), " << unanswered << " handled without a 202; 503s from "
              << (first_503 ? Seconds(*first_503 - fault) : 0.0) << " s to "
              << (last_503 ? Seconds(*last_503 - fault) : 0.0) << " s after the fault (window "
              << window << " s); slowest answer " << Seconds(slowest) << " s");
    if (first_503) {
        CHECK(*first_503 >= fault - 1s);
        CHECK(*last_503 <= fault + 30s);
    }
}

}  // namespace

TEST_CASE(
    "a SIGKILL of the node leading the work queues under POSTs to 2 ingress replicas loses "
    "and doubles nothing",
    "[.cluster]") {
    ClusterNodes nodes;
    ClusterPipeline p;
    std::optional<OrderLoad> load;
    const auto leader = LeaderUnderLoad(nodes, p, load);
    const auto fault = Clock::now();
    nodes.Kill(leader);
    REQUIRE(Eventually([&] { return load->AcceptedSince(fault) >= 1500; }, 240s));
    load->Stop();

    CheckNothingLostOrDoubled(p, load->Answers(), fault, "SIGKILL of the leader");
    CHECK(nodes.NumberOf(LeaderOf(p.vhost, "inventory.order-placed")) != leader);
    nodes.Restart(leader);
}

TEST_CASE("a node paused for 20 s under POSTs to 2 ingress replicas loses and doubles nothing",
          "[.cluster]") {
    ClusterNodes nodes;
    ClusterPipeline p;
    std::optional<OrderLoad> load;
    const auto leader = LeaderUnderLoad(nodes, p, load);
    const auto fault = Clock::now();
    nodes.Pause(leader);
    std::this_thread::sleep_for(20s);
    nodes.Resume(leader);
    REQUIRE(Eventually([&] { return load->AcceptedSince(fault) >= 1500; }, 240s));
    load->Stop();

    CheckNothingLostOrDoubled(p, load->Answers(), fault, "SIGSTOP of the leader for 20 s");
}

TEST_CASE(
    "retries waiting in a delay queue whose leader is killed, and poison published during "
    "the node loss, all end in the DLQ once with their failure record, and stay there when "
    "the DLQ's own leader is killed",
    "[.cluster]") {
    ClusterNodes nodes;
    // Every order fails transiently: 3 attempts (delays 1 s, 2 s), then the DLQ.
    ClusterPipeline p(std::map<std::string, std::string>{{"ORDERFLOW_INJECT_FAIL_RATE", "1"}});
    p.StartAll();
    auto client = ConnectBroker(p.vhost);
    constexpr int kOrders = 40;
    std::set<std::string> accepted;
    for (int i = 0; i < kOrders; ++i) {
        auto answer = PostOrder(i % 2 ? p.ingress1.Port() : p.ingress2.Port(),
                                fmt::format("retry-{}", i), {{"widget", 1}});
        REQUIRE(answer.status == 202);
        accepted.insert(JsonField(answer.body, "order_id"));
    }
    // Kill the leader of the second delay queue (4 s) while the orders wait in it. The
    // client may be on that node: the poison below goes through a new connection.
    const broker::QueueName delay_queue{"inventory.order-placed.retry.2"};
    REQUIRE(Eventually(
        [&] {
            auto info = client.Inspect(delay_queue);
            return info && *info && (*info)->messages >= kOrders / 2;
        },
        60s, 50ms));
    const auto leader = nodes.NumberOf(LeaderOf(p.vhost, delay_queue.value));
    REQUIRE(leader > 0);
    nodes.Kill(leader);
    // Poison while the node is gone, published through a surviving node.
    client = ConnectBroker(p.vhost);
    broker::OutgoingMessage poison;
    poison.exchange = broker::ExchangeName{"orders"};
    // To the ingress replicas' queue alone (inventory fails everything here, poison included,
    // before decoding; and with one queue on the route a nack means that no queue took it, so
    // the client's retry cannot duplicate it).
    poison.routing_key = broker::RoutingKey{"notification.sent"};
    poison.properties.message_id = "poison-" + NewId();
    poison.body = "{not json";
    // As any client would: a publish the broker refuses (a nack while the queue has no
    // leader, see the publisher) is sent again on a new connection.
    REQUIRE(Eventually(
        [&] {
            broker::ConnectionOptions options;
            options.url = p.vhost.AmqpUrl();
            auto connected = broker::Client::Connect(options);
            return connected && connected->Publish(poison) == broker::PublishStatus::kConfirmed;
        },
        30s, 200ms));

    const auto dlq = broker::QueueName{"inventory.order-placed.dlq"};
    const auto poison_dlq = broker::QueueName{"ingress.order-status.dlq"};
    REQUIRE(Eventually([&] { return Depth(p.vhost, dlq.value) >= kOrders; }, 120s, 500ms));
    REQUIRE(Eventually([&] { return Depth(p.vhost, poison_dlq.value) >= 1; }, 60s, 500ms));
    std::this_thread::sleep_for(3s);  // a duplicate dead letter would arrive now
    // Dead letters already in a DLQ survive the loss of its leader too (SPEC 9): bring the
    // first node back, kill the node leading the DLQ, and read the letters through another.
    nodes.Restart(leader);
    const auto dlq_leader = nodes.NumberOf(LeaderOf(p.vhost, dlq.value));
    REQUIRE(dlq_leader > 0);
    nodes.Kill(dlq_leader);
    REQUIRE(Eventually([&] { return Depth(p.vhost, dlq.value) >= kOrders; }, 60s, 500ms));
    client = ConnectBroker(p.vhost);  // it may have been connected to the killed node
    std::map<std::string, int> letters;
    while (true) {
        auto got = client.Get(dlq);
        REQUIRE(got);
        if (!*got) break;
        const auto& letter = **got;
        const auto* kind = letter.properties.Header("x-error-kind");
        REQUIRE(kind != nullptr);
        CHECK(*kind == "exhausted");
        CHECK(letter.properties.IntHeader("x-attempts") == 3);
        const auto* failed_queue = letter.properties.Header("x-failed-queue");
        REQUIRE(failed_queue != nullptr);
        CHECK(*failed_queue == "inventory.order-placed");
        CHECK(letter.properties.Header("x-first-failed-at") != nullptr);
        ++letters[letter.properties.correlation_id];
    }
    int poisons = 0;
    while (true) {
        auto got = client.Get(poison_dlq);
        REQUIRE(got);
        if (!*got) break;
        const auto* kind = (*got)->properties.Header("x-error-kind");
        REQUIRE(kind != nullptr);
        CHECK(*kind == "poison");
        CHECK((*got)->properties.message_id == poison.properties.message_id);
        CHECK((*got)->properties.IntHeader("x-attempts") == 1);
        CHECK((*got)->body == poison.body);
        ++poisons;
    }
    CHECK(poisons == 1);
    CHECK(letters.size() == accepted.size());
    for (const auto& id : accepted) {
        INFO("order " << id);
        CHECK(letters[id] == 1);
    }
    nodes.Restart(dlq_leader);
}

TEST_CASE(
    "a message that crashes inventory every time ends in its DLQ once with its failure record "
    "while the queue's leader is killed, and the orders beside it are each handled once",
    "[.cluster]") {
    ClusterNodes nodes;
    // The default prefetch: the orders delivered beside the crashing one are given back with
    // it on every crash, and must not be charged into the DLQ with it.
    ClusterPipeline p(
        std::map<std::string, std::string>{{"ORDERFLOW_TEST_CRASH_MARKER", "crash-me-please"}});
    p.StartAll();
    const auto leader = nodes.NumberOf(LeaderOf(p.vhost, "inventory.order-placed"));
    REQUIRE(leader > 0);

    OrderLoad load({.ports = {p.ingress1.Port(), p.ingress2.Port()},
                    .threads = 2,
                    .user_prefix = "beside",
                    .pause_after_accepted = 10ms,
                    .pause_after_error = 50ms});
    REQUIRE(Eventually([&] { return load.AcceptedSince() >= 100; }, 60s));
    auto crash = PostOrder(p.ingress1.Port(), "crash-me-please", {{"widget", 1}});
    REQUIRE(crash.status == 202);
    const auto crash_order = JsonField(crash.body, "order_id");

    // A supervisor restarts inventory whenever it dies, as systemd or compose would; the
    // leader of its queue is killed after the second crash, in the middle of the loop.
    const broker::QueueName dlq{"inventory.order-placed.dlq"};
    const auto started = Clock::now();
    int crashes = 0;
    bool killed = false;
    const bool dead_lettered = Eventually(
        [&] {
            if (!p.inventory.Running()) {
                ++crashes;
                p.inventory.Start();
            }
            if (crashes >= 2 && !killed) {
                nodes.Kill(leader);
                killed = true;
            }
            return Depth(p.vhost, dlq.value) >= 1;
        },
        180s, 200ms);
    REQUIRE(dead_lettered);
    const auto loop_seconds = Seconds(Clock::now() - started);
    CHECK(killed);
    // More orders after the loop: inventory consumes normally again.
    const auto after = Clock::now();
    REQUIRE(Eventually([&] { return load.AcceptedSince(after) >= 100; }, 60s));
    load.Stop();

    std::set<std::string> accepted;
    for (const auto& answer : load.Answers()) {
        if (answer.status == 202) accepted.insert(answer.order_id);
    }
    std::map<std::string, int> notified;
    CHECK(Eventually(
        [&] {
            notified = p.Notified();
            return std::all_of(accepted.begin(), accepted.end(),
                               [&](const auto& id) { return notified.contains(id); });
        },
        120s, 1s));
    std::this_thread::sleep_for(3s);  // a duplicate dead letter or notification would show now
    notified = p.Notified();
    size_t missing = 0, doubled = 0;
    for (const auto& id : accepted) missing += notified.contains(id) ? 0 : 1;
    for (const auto& [id, count] : notified) doubled += count > 1 ? 1 : 0;
    INFO(missing << " of " << accepted.size() << " orders beside the crashing one never notified");
    CHECK(missing == 0);
    CHECK(doubled == 0);
    CHECK_FALSE(notified.contains(crash_order));
    // Every order placed was taken from stock once, the crashing one never.
    CHECK(1'000'000 - p.Widgets() == static_cast<int64_t>(notified.size()));

    // The DLQ holds the crashing order alone, once, with its failure record.
    auto client = ConnectBroker(p.vhost);
    std::vector<broker::Delivery> letters;
    while (true) {
        auto got = client.Get(dlq);
        REQUIRE(got);
        if (!*got) break;
        letters.push_back(std::move(**got));
    }
    REQUIRE(letters.size() == 1);
    const auto& letter = letters[0];
    CHECK(letter.properties.correlation_id == crash_order);
    CHECK(letter.body.find("crash-me-please") != std::string::npos);
    const auto header = [&](const char* name) {
        const auto* value = letter.properties.Header(name);
        return value == nullptr ? std::string("<none>") : *value;
    };
    CHECK(header("x-error-kind") == "exhausted");
    CHECK_THAT(header("x-error"), Catch::Contains("crash loop"));
    CHECK(header("x-failed-queue") == "inventory.order-placed");
    CHECK(header("x-original-routing-key") == "order.placed");
    CHECK(letter.properties.Header("x-first-failed-at") != nullptr);
    CHECK(letter.properties.Header("x-consumer") != nullptr);
    for (const auto& queue : {"notification.inventory-events", "ingress.order-status"}) {
        CHECK(Depth(p.vhost, std::string(queue) + ".dlq") == 0);
    }
    const auto log = p.inventory.Log();
    size_t deferred = 0;
    const std::string deferral = "outcome=deferred";
    for (auto pos = log.find(deferral); pos != std::string::npos;
         pos = log.find(deferral, pos + 1)) {
        ++deferred;
    }
    WARN("crash loop on the cluster: " << crashes << " crashes in " << loop_seconds
                                       << " s, leader (node " << leader
                                       << ") killed after the second; " << accepted.size()
                                       << " orders beside it notified once; 'deferred' in "
                                          "inventory's log "
                                       << deferred << " times");
    nodes.Restart(leader);
}
