// The broker stopped and started under continuous load, with the real services: every
// order answered 202 must reach `notified`, every other answer must be 503
// BROKER_UNAVAILABLE with Retry-After, /readyz must follow the outage, and stock must drop
// once per reserved order.
//
// This test stops the node of ORDERFLOW_TEST_BROKER_DIR (scripts/broker.sh stop/start): run
// it only against a node of its own (scripts/test.sh starts one), never a shared broker.
#include <SQLiteCpp/Database.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "order_load.hpp"
#include "store/postgres/connection.hpp"
#include "support.hpp"

using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// Stops and starts the test broker; the destructor starts it again if a test left it
// stopped (a failed REQUIRE included), because the tests after this one need it.
class BrokerOutage final {
  public:
    BrokerOutage(std::string dir, std::filesystem::path log)
        : dir_(std::move(dir)), log_(std::move(log)) {}
    ~BrokerOutage() {
        if (stopped_) Run("start");
    }
    BrokerOutage(const BrokerOutage&) = delete;
    BrokerOutage& operator=(const BrokerOutage&) = delete;

    void Stop() {
        stopped_ = true;  // even if stop fails half-way, try to start it again at the end
        REQUIRE(Run("stop"));
    }
    void Start() {
        REQUIRE(Run("start"));
        stopped_ = false;
    }

  private:
    // The node's own ports.env must decide its ports and name, not variables a caller
    // happens to have in the environment.
    bool Run(const char* command) const {
        const auto line = fmt::format(
            "env -u ORDERFLOW_BROKER_AMQP_PORT -u ORDERFLOW_BROKER_MGMT_PORT "
            "-u ORDERFLOW_BROKER_DIST_PORT -u ORDERFLOW_BROKER_STREAM_PORT "
            "-u ORDERFLOW_BROKER_NODE -u ORDERFLOW_BROKER_DIR -u ORDERFLOW_BROKER_PICK_FREE_PORTS "
            "'{}/scripts/broker.sh' {} --dir '{}' >>'{}' 2>&1",
            ORDERFLOW_SOURCE_DIR, command, dir_, log_.string());
        return std::system(line.c_str()) == 0;
    }

    std::string dir_;
    std::filesystem::path log_;
    bool stopped_ = false;
};

// Polls /readyz of every service and remembers whether each was seen 503 and 200 again.
class ReadinessWatch final {
  public:
    explicit ReadinessWatch(std::vector<uint16_t> ports)
        : ports_(std::move(ports)), last_(ports_.size(), 0), thread_([this] { Run(); }) {}
    ~ReadinessWatch() {
        stop_ = true;
        thread_.join();
    }
    bool All(int status) {
        std::lock_guard lock(mutex_);
        return std::all_of(last_.begin(), last_.end(), [&](int s) { return s == status; });
    }

  private:
    void Run() {
        while (!stop_) {
            for (size_t i = 0; i < ports_.size(); ++i) {
                const int status = HttpCall("GET", ports_[i], "/readyz", {}, {}, 2s).status;
                std::lock_guard lock(mutex_);
                last_[i] = status;
            }
            std::this_thread::sleep_for(100ms);
        }
    }

    std::vector<uint16_t> ports_;
    std::mutex mutex_;
    std::vector<int> last_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// An inventory seed file of `stock` widgets, removed at the end.
class WidgetSeed final {
  public:
    explicit WidgetSeed(int64_t stock)
        : dir_(std::filesystem::temp_directory_path() / ("orderflow-seed-" + NewId())) {
        std::filesystem::create_directories(dir_);
        std::ofstream(dir_ / "seed.json") << fmt::format(R"({{"widget":{}}})", stock);
    }
    ~WidgetSeed() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    WidgetSeed(const WidgetSeed&) = delete;
    WidgetSeed& operator=(const WidgetSeed&) = delete;
    std::map<std::string, std::string> InventoryEnv() const {
        return {{"ORDERFLOW_INVENTORY_SEED", (dir_ / "seed.json").string()}};
    }

  private:
    std::filesystem::path dir_;
};

// Drops ids from `pending` once the ingress reports them notified; true when none is left.
bool NotifiedNow(uint16_t ingress_port, std::set<std::string>& pending) {
    for (auto it = pending.begin(); it != pending.end();) {
        const auto body = HttpCall("GET", ingress_port, "/orders/" + *it, {}, {}, 5s).body;
        it = JsonField(body, "status") == "notified" ? pending.erase(it) : std::next(it);
    }
    return pending.empty();
}

// Orders the ingress's projection saw reserved (from the inventory events on the bus),
// whether or not the ingress answered 202 for them: its SQLite file, or its schema on the
// pipeline's PostgreSQL.
std::set<std::string> ReservedInProjection(const Pipeline& p) {
    std::set<std::string> ids;
    if (const auto url = p.env.find("ORDERFLOW_DATABASE_URL"); url != p.env.end()) {
        orderflow::store::postgres::Connection db(url->second, "ingress");
        auto rows = db.Exec("SELECT DISTINCT order_id FROM order_stages WHERE status = 'reserved'");
        for (int r = 0; r < rows.Count(); ++r) ids.insert(rows.Text(r, 0));
        return ids;
    }
    SQLite::Database db((p.dir / "ingress.db").string(), SQLite::OPEN_READONLY);
    db.setBusyTimeout(5000);
    SQLite::Statement query(db, "SELECT DISTINCT order_id FROM order_stages WHERE status = ?");
    query.bind(1, "reserved");
    while (query.executeStep()) ids.insert(query.getColumn(0).getString());
    return ids;
}

// Resets the broker's side of every AMQP connection (ss -K), as a cut network would: what
// the broker read before is processed, confirms it had not yet written are lost. Returns
// how many sockets it reset.
int ResetBrokerSockets() {
    const auto url = Env("ORDERFLOW_TEST_AMQP_URL");  // amqp://u:p@127.0.0.1:PORT/vhost
    const auto port = std::stoi(url.substr(url.rfind(':') + 1));
    const auto line = fmt::format("ss -K -H state established '( sport = :{} )' 2>/dev/null", port);
    FILE* listing = ::popen(line.c_str(), "r");
    if (listing == nullptr) return 0;
    int reset = 0;  // ss lists the sockets it destroyed, one per line
    for (int c = std::fgetc(listing); c != EOF; c = std::fgetc(listing)) reset += c == '\n';
    ::pclose(listing);
    return reset;
}

}  // namespace

TEST_CASE("a broker restart under continuous POSTs: every 202 reaches notified, the rest got 503",
          "[restart]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    const auto broker_dir = Env("ORDERFLOW_TEST_BROKER_DIR");
    constexpr int64_t kStock = 1000000;
    const WidgetSeed seed(kStock);
    Pipeline p({}, seed.InventoryEnv());
    p.StartAll();
    // Analytics too: it follows the stream through the outage and counts every order once.
    Service analytics("orderflow-analytics", p.env, p.dir / "analytics");
    analytics.Start();
    REQUIRE(analytics.WaitReady());
    REQUIRE(StockLevel(p.inventory.Port(), "widget") == kStock);
    BrokerOutage outage(broker_dir, p.dir / "broker.log");
    ReadinessWatch readiness(
        {p.ingress.Port(), p.inventory.Port(), p.notification.Port(), analytics.Port()});

    OrderLoad load({.ports = {p.ingress.Port()},
                    .threads = 3,
                    .user_prefix = "restart",
                    .pause_after_accepted = 20ms,  // continuous, not a flood
                    .pause_after_error = 20ms});
    const auto begin = Clock::now();
    REQUIRE(Eventually([&] { return load.AcceptedSince(begin) >= 30; }, 30s));

    outage.Stop();
    const auto stopped = Clock::now();
    INFO("broker stopped after "
         << std::chrono::duration_cast<std::chrono::seconds>(stopped - begin).count() << " s");
    // Every service notices the outage and says so; the ingress keeps answering meanwhile.
    CHECK(Eventually([&] { return readiness.All(503); }, 30s));
    std::this_thread::sleep_for(2s);
    CHECK(load.AcceptedSince(stopped + 1s) == 0);  // (the 1 s covers answers in transit)

    outage.Start();
    const auto restarted = Clock::now();
    CHECK(Eventually([&] { return readiness.All(200); }, 60s));
    REQUIRE(Eventually([&] { return load.AcceptedSince(restarted) >= 30; }, 60s));
    load.Stop();

    const auto answers = load.Answers();
    std::set<std::string> accepted;
    std::set<std::string> in_flight_failures;  // 503s of orders handed to the publisher
    size_t unavailable = 0;
    std::chrono::milliseconds slowest{0};
    for (const auto& answer : answers) {
        slowest = std::max(slowest,
                           std::chrono::duration_cast<std::chrono::milliseconds>(answer.latency));
        if (answer.status == 202) {
            REQUIRE_FALSE(answer.order_id.empty());
            accepted.insert(answer.order_id);
            continue;
        }
        INFO("user " << answer.user << " got " << answer.status << " " << answer.code << " "
                     << answer.details);
        REQUIRE(answer.status == 503);
        REQUIRE(answer.code == "BROKER_UNAVAILABLE");
        REQUIRE(answer.retry_after);
        ++unavailable;
        if (answer.InFlight()) in_flight_failures.insert(answer.user);
    }
    INFO(accepted.size() << " accepted, " << unavailable << " unavailable ("
                         << in_flight_failures.size() << " failed in flight), slowest answer "
                         << slowest.count() << " ms");
    CHECK(unavailable > 0);
    CHECK(slowest < 10s);  // nobody waited on a dead connection

    std::set<std::string> pending = accepted;
    CHECK(Eventually([&] { return NotifiedNow(p.ingress.Port(), pending); }, 120s, 500ms));
    INFO(pending.size() << " accepted orders not notified, e.g. "
                        << (pending.empty() ? "" : *pending.begin()));
    CHECK(pending.empty());

    // A publish in flight when the connection dropped was answered 503 but may still have
    // reached the queue (its confirm was lost with the connection): the outcome is unknown
    // to any client. Such orders show up reserved without a 202; there can be no more of
    // them than publishes that failed in flight.
    std::set<std::string> reserved;
    REQUIRE(Eventually(
        [&] {
            reserved = ReservedInProjection(p);
            return std::includes(reserved.begin(), reserved.end(), accepted.begin(),
                                 accepted.end());
        },
        30s));
    std::this_thread::sleep_for(2s);  // let a late duplicate show itself in the stock
    reserved = ReservedInProjection(p);
    std::vector<std::string> unanswered;
    std::set_difference(reserved.begin(), reserved.end(), accepted.begin(), accepted.end(),
                        std::back_inserter(unanswered));
    WARN(accepted.size() << " orders accepted, " << unavailable << " answered 503 ("
                         << in_flight_failures.size() << " of them failed in flight), "
                         << unanswered.size() << " reserved without a 202; slowest answer "
                         << slowest.count() << " ms");
    CHECK(unanswered.size() <= in_flight_failures.size());
    // Exactly once: the stock dropped by one per reserved order, which is the number of
    // 202s plus those unknown outcomes (none in the usual run).
    CHECK(kStock - StockLevel(p.inventory.Port(), "widget") ==
          static_cast<int64_t>(accepted.size() + unanswered.size()));
    // Analytics reconnected and read on (30 orders came after the restart): each order the
    // stream got, counted once.
    std::string stats;
    CHECK(Eventually(
        [&] {
            stats = HttpCall("GET", analytics.Port(), "/stats").body;
            return JsonField(stats, "total_orders") ==
                   std::to_string(accepted.size() + unanswered.size());
        },
        30s, 500ms));
    INFO(stats);
}

TEST_CASE(
    "a client retrying 503s with its Idempotency-Key gets one order, also when a lost "
    "publish reached the queue",
    "[restart]") {
    // A publish in flight when the connection drops is answered 503 though the broker may
    // have enqueued it. The client's retry with the same key must republish that same event
    // (same message_id), which inventory's inbox then drops, rather than a second order.
    constexpr int64_t kStock = 1000000;
    const WidgetSeed seed(kStock);
    Pipeline p({}, seed.InventoryEnv());
    p.StartAll();

    struct Keyed {
        std::string key;
        std::string order_id;    // of the 202
        int unavailable = 0;     // 503s before it
        int lost_in_flight = 0;  // of those, publishes whose confirm was lost
    };
    std::mutex mutex;
    std::vector<Keyed> done;
    std::vector<std::string> failures;
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 8; ++t) {
        clients.emplace_back([&, t] {
            for (int i = 0; !stop; ++i) {
                Keyed keyed{fmt::format("retry-{}-{}-{}", t, i, NewId()), {}, 0, 0};
                const auto give_up = Clock::now() + 60s;
                while (keyed.order_id.empty() && Clock::now() < give_up) {
                    const auto sent = Clock::now();
                    auto result = PostOrder(p.ingress.Port(), "retry-" + std::to_string(t),
                                            {{"widget", 1}}, {{"Idempotency-Key", keyed.key}});
                    const auto took =
                        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - sent);
                    if (result.status == 202) {
                        keyed.order_id = JsonField(result.body, "order_id");
                    } else if (result.status == 503) {
                        ++keyed.unavailable;
                        if (JsonField(result.body, "details") != "not connected to the broker")
                            ++keyed.lost_in_flight;
                        std::this_thread::sleep_for(50ms);
                    } else {
                        std::lock_guard lock(mutex);
                        failures.push_back(fmt::format("{}: {} after {} ms {}", keyed.key,
                                                       result.status, took.count(), result.body));
                        return;
                    }
                }
                {
                    std::lock_guard lock(mutex);
                    done.push_back(std::move(keyed));
                }
                std::this_thread::sleep_for(10ms);  // steady, without running out of ports
            }
        });
    }
    const auto lost_so_far = [&] {
        std::lock_guard lock(mutex);
        int lost = 0;
        for (const auto& keyed : done) lost += keyed.lost_in_flight;
        return lost;
    };
    const auto finished = [&] {
        std::lock_guard lock(mutex);
        return done.size();
    };
    REQUIRE(Eventually([&] { return finished() >= 50; }, 30s));
    // Cut the connections under load until some publishes lost their confirm in flight.
    for (int round = 0; round < 30 && lost_so_far() < 5; ++round) {
        // Without ss -K (a kernel without INET_DIAG_DESTROY) the broker closes them instead:
        // confirms are then seldom lost after the enqueue, so the test proves less.
        if (ResetBrokerSockets() == 0) {
            WARN("ss -K reset no socket: closing the connections through the management API");
            CloseConnections(p.vhost);
        }
        std::this_thread::sleep_for(1500ms);
    }
    const auto before_stop = finished();
    REQUIRE(Eventually([&] { return finished() >= before_stop + 50; }, 30s));
    stop = true;
    for (auto& client : clients) client.join();

    INFO(fmt::format("failures: {}", fmt::join(failures, "; ")));
    REQUIRE(failures.empty());
    std::set<std::string> keys, orders;
    int retried = 0, lost = 0;
    for (const auto& keyed : done) {
        INFO("key " << keyed.key);
        REQUIRE_FALSE(keyed.order_id.empty());
        keys.insert(keyed.key);
        orders.insert(keyed.order_id);
        retried += keyed.unavailable > 0 ? 1 : 0;
        lost += keyed.lost_in_flight;
    }
    WARN(keys.size() << " keys, " << retried << " retried after a 503, " << lost
                     << " publishes lost their confirm in flight");
    REQUIRE(lost > 0);  // else this run did not exercise the case
    REQUIRE(orders.size() == keys.size());

    std::set<std::string> pending = orders;
    CHECK(Eventually([&] { return NotifiedNow(p.ingress.Port(), pending); }, 120s, 500ms));
    CHECK(pending.empty());
    // One reservation per key: a lost publish that reached the queue and its retry are one
    // event to inventory, not two orders.
    std::this_thread::sleep_for(2s);  // let a late duplicate show itself in the stock
    std::vector<std::string> extra;
    const auto reserved = ReservedInProjection(p);
    std::set_difference(reserved.begin(), reserved.end(), orders.begin(), orders.end(),
                        std::back_inserter(extra));
    INFO(extra.size() << " orders reserved that no key was answered with, e.g. "
                      << (extra.empty() ? "" : extra.front()));
    CHECK(extra.empty());
    CHECK(kStock - StockLevel(p.inventory.Port(), "widget") == static_cast<int64_t>(keys.size()));
}
