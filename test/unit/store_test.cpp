// Unit tests of the store tables: inbox, outbox, stock and notifications.
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Transaction.h>

#include <array>
#include <catch2/catch.hpp>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "store/sqlite/database.hpp"
#include "store/sqlite/impl/query.hpp"
#include "store/sqlite/inbox.hpp"
#include "store/sqlite/notifications.hpp"
#include "store/sqlite/outbox.hpp"
#include "store/sqlite/stock.hpp"

namespace store = orderflow::store;

namespace {

std::unique_ptr<SQLite::Database> Memory() {
    return store::OpenDatabase(":memory:", store::Durability::kNormal);
}

store::OutboxEntry Entry(const std::string& message_id, std::string body = "{}") {
    return store::OutboxEntry{
        .exchange = "orders",
        .routing_key = "inventory.reserved",
        .message_id = message_id,
        .correlation_id = "order-1",
        .type = "InventoryReserved",
        .app_id = "inventory",
        .traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        .timestamp = 1'795'000'000'000,
        .body = std::move(body)};
}

std::vector<std::string> MessageIds(const std::vector<store::OutboxEntry>& rows) {
    std::vector<std::string> ids;
    ids.reserve(rows.size());
    for (const auto& row : rows) ids.push_back(row.message_id);
    return ids;
}

}  // namespace

// ---- inbox ----

TEST_CASE("a recorded message id is found and an unknown one is not") {
    auto db = Memory();
    store::CreateInboxSchema(*db);
    CHECK_FALSE(store::InboxContains(*db, "m-1"));
    store::InboxRecord(*db, "m-1", 1000);
    CHECK(store::InboxContains(*db, "m-1"));
    CHECK_FALSE(store::InboxContains(*db, "m-2"));
    CHECK_FALSE(store::InboxContains(*db, ""));
}

TEST_CASE("recording a message id twice fails instead of hiding a second effect") {
    auto db = Memory();
    store::CreateInboxSchema(*db);
    store::InboxRecord(*db, "m-1", 1000);
    CHECK_THROWS_AS(store::InboxRecord(*db, "m-1", 2000), SQLite::Exception);
}

TEST_CASE("a record rolled back with the caller's savepoint is not remembered") {
    auto db = Memory();
    store::CreateInboxSchema(*db);
    SQLite::Transaction txn(*db);
    db->exec("SAVEPOINT message");
    store::InboxRecord(*db, "m-1", 1000);
    CHECK(store::InboxContains(*db, "m-1"));  // visible inside the transaction
    db->exec("ROLLBACK TO message");
    db->exec("RELEASE message");
    txn.commit();
    CHECK_FALSE(store::InboxContains(*db, "m-1"));
}

TEST_CASE("pruning the inbox removes exactly the ids processed before the cutoff") {
    auto db = Memory();
    store::CreateInboxSchema(*db);
    {
        SQLite::Transaction txn(*db);
        // More than one prune chunk of old ids.
        for (int i = 0; i < 12'000; ++i) store::InboxRecord(*db, "old-" + std::to_string(i), i);
        store::InboxRecord(*db, "at-cutoff", 20'000);
        store::InboxRecord(*db, "new", 30'000);
        txn.commit();
    }
    CHECK(store::PruneInbox(*db, 20'000) == 12'000);
    CHECK_FALSE(store::InboxContains(*db, "old-0"));
    CHECK_FALSE(store::InboxContains(*db, "old-11999"));
    CHECK(store::InboxContains(*db, "at-cutoff"));
    CHECK(store::InboxContains(*db, "new"));
    CHECK(store::PruneInbox(*db, 20'000) == 0);
}

// ---- outbox ----

TEST_CASE("outbox entries come back oldest first with every field intact") {
    auto db = Memory();
    store::CreateOutboxSchema(*db);
    const std::string binary("{\"a\":1}\0tail", 12);
    store::OutboxAdd(*db, Entry("e-1", binary));
    auto second = Entry("e-2");
    second.traceparent = "";
    store::OutboxAdd(*db, second);
    store::OutboxAdd(*db, Entry("e-3"));

    auto rows = store::OutboxFetch(*db, 10);
    REQUIRE(MessageIds(rows) == std::vector<std::string>{"e-1", "e-2", "e-3"});
    CHECK(rows[0].id < rows[1].id);
    CHECK(rows[1].id < rows[2].id);
    const auto expected = Entry("e-1", binary);
    CHECK(rows[0].exchange == expected.exchange);
    CHECK(rows[0].routing_key == expected.routing_key);
    CHECK(rows[0].correlation_id == expected.correlation_id);
    CHECK(rows[0].type == expected.type);
    CHECK(rows[0].app_id == expected.app_id);
    CHECK(rows[0].traceparent == expected.traceparent);
    CHECK(rows[0].timestamp == expected.timestamp);
    CHECK(rows[0].body == binary);
    CHECK(rows[0].body.size() == 12);
    CHECK(rows[1].traceparent.empty());
}

TEST_CASE("outbox fetch honours its limit and reads only ids after the given one") {
    auto db = Memory();
    store::CreateOutboxSchema(*db);
    for (int i = 1; i <= 5; ++i) store::OutboxAdd(*db, Entry("e-" + std::to_string(i)));
    auto first = store::OutboxFetch(*db, 2);
    REQUIRE(MessageIds(first) == std::vector<std::string>{"e-1", "e-2"});
    auto next = store::OutboxFetch(*db, 2, first.back().id);
    CHECK(MessageIds(next) == std::vector<std::string>{"e-3", "e-4"});
    auto rest = store::OutboxFetch(*db, 10, next.back().id);
    CHECK(MessageIds(rest) == std::vector<std::string>{"e-5"});
    CHECK(store::OutboxFetch(*db, 10, rest.back().id).empty());
}

TEST_CASE("deleting outbox ids removes exactly those and the depth follows") {
    auto db = Memory();
    store::CreateOutboxSchema(*db);
    CHECK(store::OutboxDepth(*db) == 0);
    for (int i = 1; i <= 4; ++i) store::OutboxAdd(*db, Entry("e-" + std::to_string(i)));
    CHECK(store::OutboxDepth(*db) == 4);
    auto rows = store::OutboxFetch(*db, 10);
    const std::array<int64_t, 2> confirmed{rows[0].id, rows[2].id};
    store::OutboxDelete(*db, confirmed);  // outside any transaction: commits on its own
    CHECK_FALSE(orderflow::store::impl::InTransaction(*db));
    CHECK(store::OutboxDepth(*db) == 2);
    CHECK(MessageIds(store::OutboxFetch(*db, 10)) == std::vector<std::string>{"e-2", "e-4"});
    store::OutboxDelete(*db, std::span<const int64_t>{});
    CHECK(store::OutboxDepth(*db) == 2);
}

TEST_CASE("an outbox delete inside the caller's transaction is undone with it") {
    auto db = Memory();
    store::CreateOutboxSchema(*db);
    store::OutboxAdd(*db, Entry("e-1"));
    const std::array<int64_t, 1> ids{store::OutboxFetch(*db, 1).at(0).id};
    {
        SQLite::Transaction txn(*db);
        store::OutboxDelete(*db, ids);
        CHECK(store::OutboxDepth(*db) == 0);
    }  // rolled back
    CHECK(store::OutboxDepth(*db) == 1);
}

TEST_CASE("outbox ids never go backwards after the newest rows are deleted") {
    auto db = Memory();
    store::CreateOutboxSchema(*db);
    store::OutboxAdd(*db, Entry("e-1"));
    const int64_t first = store::OutboxFetch(*db, 1).at(0).id;
    const std::array<int64_t, 1> ids{first};
    store::OutboxDelete(*db, ids);
    store::OutboxAdd(*db, Entry("e-2"));
    CHECK(store::OutboxFetch(*db, 1).at(0).id > first);
}

// ---- stock ----

TEST_CASE("the seed is loaded only into an empty stock table") {
    auto db = Memory();
    store::StockTable stock(*db);
    stock.SeedIfEmpty({{"burger", 10}, {"fries", 20}});
    CHECK(stock.All() == std::map<std::string, int64_t>{{"burger", 10}, {"fries", 20}});
    stock.Take("burger", 3);
    stock.SeedIfEmpty({{"burger", 10}, {"pizza", 5}});  // a restart: nothing changes
    CHECK(stock.All() == std::map<std::string, int64_t>{{"burger", 7}, {"fries", 20}});
    store::StockTable again(*db);  // constructing twice keeps the data
    CHECK(again.Available("burger") == 7);
}

TEST_CASE("the built-in seed is burger 100, fries 200, pizza 50, soda 150, salad 75") {
    CHECK(store::DefaultSeed() ==
          std::map<std::string, int64_t>{
              {"burger", 100}, {"fries", 200}, {"pizza", 50}, {"soda", 150}, {"salad", 75}});
}

TEST_CASE("taking stock lowers it and taking more than is left is refused by SQLite") {
    auto db = Memory();
    store::StockTable stock(*db);
    stock.SeedIfEmpty({{"pizza", 5}});
    stock.Take("pizza", 5);
    CHECK(stock.Available("pizza") == 0);
    CHECK_THROWS_AS(stock.Take("pizza", 1), SQLite::Exception);
    CHECK(stock.Available("pizza") == 0);
    CHECK_FALSE(stock.Available("food").has_value());
    CHECK_THROWS_AS(stock.Take("food", 1), std::out_of_range);
    CHECK_THROWS_AS(stock.Take("pizza", -1), std::invalid_argument);
    CHECK_THROWS_AS(stock.Set("pizza", -1), SQLite::Exception);
}

TEST_CASE("a refused take fails only its statement, not the caller's transaction") {
    auto db = Memory();
    store::StockTable stock(*db);
    stock.SeedIfEmpty({{"burger", 2}, {"fries", 1}});
    SQLite::Transaction txn(*db);
    stock.Take("burger", 1);
    CHECK_THROWS_AS(stock.Take("fries", 2), SQLite::Exception);
    txn.commit();
    CHECK(stock.Available("burger") == 1);
    CHECK(stock.Available("fries") == 1);
}

TEST_CASE("takes in a rolled-back transaction leave the stock unchanged") {
    auto db = Memory();
    store::StockTable stock(*db);
    stock.SeedIfEmpty({{"burger", 2}, {"fries", 1}});
    {
        SQLite::Transaction txn(*db);
        stock.Take("burger", 2);
        stock.Take("fries", 1);
        CHECK(stock.Available("burger") == 0);
    }  // no commit
    CHECK(stock.Available("burger") == 2);
    CHECK(stock.Available("fries") == 1);
}

TEST_CASE("setting stock creates or overwrites a sku") {
    auto db = Memory();
    store::StockTable stock(*db);
    stock.Set("soda", 4);
    stock.Set("soda", 9);
    stock.Set("salad", 0);
    CHECK(stock.All() == std::map<std::string, int64_t>{{"salad", 0}, {"soda", 9}});
}

// ---- notifications ----

TEST_CASE("notifications are listed per order in the order they were recorded") {
    auto db = Memory();
    store::NotificationTable table(*db);
    table.Add({"order-1", "confirmed", "first", "2026-11-21T12:00:00.000Z"});
    table.Add({"order-2", "rejected", "other", "2026-11-21T12:00:01.000Z"});
    table.Add({"order-1", "confirmed", "second", "2026-11-21T11:00:00.000Z"});
    auto records = table.ForOrder("order-1");
    REQUIRE(records.size() == 2);
    CHECK(records[0].message == "first");
    CHECK(records[0].order_id == "order-1");
    CHECK(records[0].outcome == "confirmed");
    CHECK(records[0].at == "2026-11-21T12:00:00.000Z");
    CHECK(records[1].message == "second");
    CHECK(table.ForOrder("order-2").size() == 1);
    CHECK(table.ForOrder("order-3").empty());
    CHECK(table.Count() == 3);
}
