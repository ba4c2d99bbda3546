// SPEC section 6, "the outbox is published with confirms; a row is deleted only after its
// confirm", on its two rare paths, made to happen for real:
// - the broker nacks part of a publish: a queue of the test's own with a length limit and
//   reject-publish gets inventory's events too, so the broker confirms what fits and nacks
//   the rest;
// - a batch transaction fails after it took confirmed rows from the relay, for the relay to
//   delete: a trigger in inventory's own database (SQLite or PostgreSQL) refuses the inbox
//   row of marked messages.
// The events are counted in a queue nobody consumes, so no copy hides behind an inbox's
// dedupe. (Notification is not started: its queue keeps what the relay published.)
#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <map>
#include <set>
#include <sstream>
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

const broker::QueueName& kHeld = broker::kNotificationQueue;

// Rows in inventory's outbox, as its /metrics counts them when scraped.
int64_t OutboxDepth(const Service& inventory) {
    return static_cast<int64_t>(Sample(Scrape(inventory), "orderflow_outbox_depth"));
}

// Takes every message of `queue` and counts them by correlation id (the order).
std::map<std::string, int> TakeAll(broker::Client& client, const broker::QueueName& queue) {
    std::map<std::string, int> seen;
    while (true) {
        auto delivery = client.Get(queue);
        REQUIRE(delivery);
        if (!delivery->has_value()) return seen;
        ++seen[(*delivery)->properties.correlation_id];
        REQUIRE(client.Ack((*delivery)->delivery_tag));
    }
}

// Waits for inventory's outbox to empty, then takes `queue`: one event per order, no more.
void CheckEachOnce(const Service& inventory, broker::Client& client, const broker::QueueName& queue,
                   const std::set<std::string>& orders) {
    REQUIRE(Eventually([&] { return OutboxDepth(inventory) == 0; }, 20s));
    REQUIRE(Eventually([&] { return ReadyIn(client, queue) >= orders.size(); }, 10s));
    std::this_thread::sleep_for(1s);  // anything published twice would be here by now
    const auto seen = TakeAll(client, queue);
    CHECK(seen.size() == orders.size());
    for (const auto& order : orders) {
        INFO("order " << order);
        CHECK(seen.contains(order));
        if (seen.contains(order)) CHECK(seen.at(order) == 1);
    }
}

// Publishes an OrderPlaced of one `sku` for inventory; returns the order id.
std::string PlaceOrder(broker::Client& client, const std::string& event_id,
                       const std::string& sku) {
    const auto order_id = events::NewUuid();
    REQUIRE(client.Publish(OrderPlacedEvent(event_id, order_id, "outbox-test", sku)) ==
            broker::PublishStatus::kConfirmed);
    return order_id;
}

// A classic queue of the test's own gets inventory's events beside the contract's queues.
// It holds kRoom of them (a policy's limit) and overflows with reject-publish, so the broker
// confirms the publishes that fit and nacks the others: exactly, which a quorum queue's
// limit is not. What it holds is what was confirmed.
const broker::QueueName kLimited{"outbox-test.limited"};
constexpr int kRoom = 4;
constexpr int kOrders = 24;

// Declares kLimited and its limit; returns the policy's path (DELETE lifts the limit).
std::string LimitQueue(const Pipeline& p, broker::Client& client) {
    REQUIRE(client.DeclareQueue(
        kLimited, {{"x-overflow", broker::FieldValue{std::string("reject-publish")}}}));
    REQUIRE(client.Bind(kLimited, broker::kEventsExchange, broker::RoutingKey{"inventory.*"}));
    const auto policy = "/api/policies/" + p.vhost.Name() + "/outbox-test-limit";
    REQUIRE(MgmtCall("PUT", policy,
                     R"({"pattern":"^outbox-test\\.limited$","apply-to":"queues",)"
                     R"("definition":{"max-length":)" +
                         std::to_string(kRoom) + "}}")
                    .status /
                100 ==
            2);
    const auto queue_path = "/api/queues/" + p.vhost.Name() + "/" + kLimited.value;
    REQUIRE(Eventually(
        [&] {
            return JsonField(MgmtCall("GET", queue_path, "").body, "policy") == "outbox-test-limit";
        },
        20s));
    return policy;
}

// kOrders orders wait in inventory's queue while it is stopped, so that it handles them in
// one batch and its relay publishes their events in one round: the broker's nacks for the
// events that do not fit then cross its acks for those that do. Returns the order ids, once
// inventory has reserved them all.
std::set<std::string> QueueOrdersForOneBatch(Pipeline& p, broker::Client& client) {
    const auto stock = StockLevel(p.inventory.Port(), "fries");
    p.inventory.Kill(SIGTERM);
    REQUIRE(p.inventory.Wait(20s) == std::optional<int>(0));
    std::set<std::string> orders;
    for (int i = 0; i < kOrders; ++i) orders.insert(PlaceOrder(client, events::NewUuid(), "fries"));
    p.inventory.Start();
    REQUIRE(p.inventory.WaitReady());
    REQUIRE(Eventually([&] { return StockLevel(p.inventory.Port(), "fries") == stock - kOrders; },
                       20s));
    return orders;
}

// SQL run in inventory's database: its SQLite file, or its schema on the test PostgreSQL.
void RunSql(const Pipeline& p, const std::string& sqlite_sql, const std::string& postgres_sql) {
    if (const auto url = p.env.find("ORDERFLOW_DATABASE_URL"); url != p.env.end()) {
        store::postgres::Connection db(url->second, "inventory");
        db.ExecScript(postgres_sql);
        return;
    }
    SQLite::Database db((p.dir / "inventory.db").string(), SQLite::OPEN_READWRITE);
    db.setBusyTimeout(5000);
    db.exec(sqlite_sql);
}

// The sum of outbox_rows_given_back over inventory's "batch transaction failed" lines.
int64_t RowsGivenBack(const Service& inventory) {
    const std::string key = "outbox_rows_given_back=";  // the text log format
    std::istringstream in(inventory.Log());
    int64_t total = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.find("batch transaction failed") == std::string::npos) continue;
        if (const auto at = line.find(key); at != std::string::npos) {
            total += std::stoll(line.substr(at + key.size()));
        }
    }
    return total;
}

}  // namespace

TEST_CASE("outbox rows the broker nacks stay in the outbox and are sent again, once each",
          "[guarantees][outbox]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    Pipeline p;
    p.inventory.Start();
    REQUIRE(p.inventory.WaitReady());
    auto client = ConnectBroker(p.vhost);

    const auto policy = LimitQueue(p, client);
    const auto orders = QueueOrdersForOneBatch(p, client);

    // Every event is either in the queue (confirmed: its row deleted) or still in the outbox
    // (nacked: its row kept), never both and never neither; the relay keeps retrying.
    std::string state;
    const auto balanced = [&] {
        const auto depth = OutboxDepth(p.inventory);
        const auto ready = ReadyIn(client, kLimited);
        state = "outbox " + std::to_string(depth) + ", queue " + std::to_string(ready);
        return depth > 0 && ready + depth == kOrders;
    };
    REQUIRE(Eventually(balanced, 20s));
    CHECK(ReadyIn(client, kLimited) == kRoom);
    CHECK(p.inventory.Log().find("first_failure=nacked") != std::string::npos);
    std::this_thread::sleep_for(2500ms);  // a few more rounds of the relay, nacked again
    const bool still = Eventually(balanced, 2s);
    INFO(state);
    CHECK(still);

    // Room again: the kept rows go out, and only they.
    REQUIRE(MgmtCall("DELETE", policy, "").status / 100 == 2);
    CheckEachOnce(p.inventory, client, kLimited, orders);
}

TEST_CASE("published rows a failed batch took go back to the relay, which deletes them",
          "[guarantees][outbox]") {
    const auto backend = GENERATE(from_range(StoreBackends()));
    StoreBackendScope store_backend(backend);
    // 100 attempts (the most allowed) take about 40 s: longer than the marking below goes
    // on, so no order is dead-lettered (checked at the end).
    Pipeline p(std::map<std::string, std::string>{{"ORDERFLOW_RETRY_DELAYS_MS", "200,400"},
                                                  {"ORDERFLOW_MAX_ATTEMPTS", "100"}});
    p.inventory.Start();
    REQUIRE(p.inventory.WaitReady());
    auto client = ConnectBroker(p.vhost);

    // Inventory's transaction fails for a message whose id is in test_poison: the whole batch
    // rolls back, its messages are retried, and the confirmed rows it took go back.
    RunSql(p,
           "CREATE TABLE test_poison (id TEXT PRIMARY KEY);"
           "CREATE TRIGGER test_poison_inbox BEFORE INSERT ON processed_messages"
           " WHEN EXISTS (SELECT 1 FROM test_poison WHERE id = NEW.message_id)"
           " BEGIN SELECT RAISE(ABORT, 'test: a batch that fails'); END;",
           "CREATE TABLE test_poison (id text PRIMARY KEY);"
           "CREATE FUNCTION test_poison_inbox() RETURNS trigger LANGUAGE plpgsql AS $$"
           " BEGIN"
           "  IF EXISTS (SELECT 1 FROM test_poison WHERE id = NEW.message_id) THEN"
           "   RAISE EXCEPTION 'test: a batch that fails';"
           "  END IF;"
           "  RETURN NEW;"
           " END $$;"
           "CREATE TRIGGER test_poison_inbox BEFORE INSERT ON processed_messages"
           " FOR EACH ROW EXECUTE FUNCTION test_poison_inbox();");

    const auto stock = StockLevel(p.inventory.Port(), "fries");
    std::set<std::string> orders;
    // A good order, whose event the relay publishes and holds for the next batch to delete;
    // then, while it holds it, a marked one. Until some failed batch held confirmed rows.
    const auto marking_ends = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < marking_ends && RowsGivenBack(p.inventory) == 0) {
        orders.insert(PlaceOrder(client, events::NewUuid(), "fries"));
        std::this_thread::sleep_for(40ms);
        const auto marked = events::NewUuid();
        RunSql(p, "INSERT INTO test_poison VALUES ('" + marked + "')",
               "INSERT INTO test_poison VALUES ('" + marked + "')");
        orders.insert(PlaceOrder(client, marked, "fries"));
        REQUIRE(Eventually([&] { return p.inventory.Log().find(marked) != std::string::npos; }, 10s,
                           20ms));
        std::this_thread::sleep_for(100ms);
    }
    INFO("orders published: " << orders.size());
    REQUIRE(RowsGivenBack(p.inventory) > 0);

    // Healed: every order is applied on a retry.
    RunSql(p, "DELETE FROM test_poison", "DELETE FROM test_poison");
    const auto placed = static_cast<int64_t>(orders.size());
    REQUIRE(
        Eventually([&] { return StockLevel(p.inventory.Port(), "fries") == stock - placed; }, 30s));
    // The rows given back were deleted, by the relay, and not published again.
    CheckEachOnce(p.inventory, client, kHeld, orders);
    CHECK(ReadyIn(client, broker::DeadLetterQueue(broker::kInventoryQueue)) == 0);
}

// Only PostgreSQL's release of nacked rows can fail (SQLite's claims are in memory). A
// release the relay forgot would leave the rows claimed until their lease (10 s) ran out;
// it keeps them and releases them again every round instead.
TEST_CASE(
    "nacked outbox rows whose release PostgreSQL refused are released again, and go out "
    "before their lease runs out",
    "[guarantees][outbox]") {
    if (StoreBackends().size() < 2) {
        WARN("no PostgreSQL (ORDERFLOW_TEST_DATABASE_URL): skipped");
        return;
    }
    StoreBackendScope store_backend("postgres");
    Pipeline p;
    p.inventory.Start();
    REQUIRE(p.inventory.WaitReady());
    auto client = ConnectBroker(p.vhost);
    const auto policy = LimitQueue(p, client);
    // A release sets claimed_until to 0; while this trigger exists, PostgreSQL refuses it.
    RunSql(p, "",
           "CREATE FUNCTION test_refuse_release() RETURNS trigger LANGUAGE plpgsql AS "
           "$$ BEGIN RAISE EXCEPTION 'test: release refused'; END $$;"
           "CREATE TRIGGER test_refuse_release BEFORE UPDATE ON outbox FOR EACH ROW "
           "WHEN (NEW.claimed_until = 0) EXECUTE FUNCTION test_refuse_release();");
    const auto orders = QueueOrdersForOneBatch(p, client);

    // The nacked rows' release is refused, and tried again on the next round. Their claim
    // came just before the first refusal: a forgotten release would keep them claimed until
    // about 10 s after it.
    const std::string refused = "releasing unconfirmed outbox rows";
    REQUIRE(Eventually([&] { return Occurrences(p.inventory.Log(), refused) >= 1; }, 20s, 20ms));
    const auto first_refusal = std::chrono::steady_clock::now();
    CHECK(Eventually([&] { return Occurrences(p.inventory.Log(), refused) >= 2; }, 3s, 20ms));
    CHECK(ReadyIn(client, kLimited) == kRoom);
    CHECK(OutboxDepth(p.inventory) == kOrders - kRoom);

    // Lifted well inside the lease: the rows are released and sent at once, each once.
    REQUIRE(MgmtCall("DELETE", policy, "").status / 100 == 2);
    RunSql(p, "", "DROP TRIGGER test_refuse_release ON outbox;");
    REQUIRE(Eventually([&] { return ReadyIn(client, kLimited) == kOrders; }, 20s, 50ms));
    const auto took = std::chrono::steady_clock::now() - first_refusal;
    INFO("all sent " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                     << " ms after the first refusal");
    CHECK(took < 8s);
    CheckEachOnce(p.inventory, client, kLimited, orders);
}
