// Unit tests of how store connections are opened and shared: files, WAL, durability,
// concurrent connections, and the per-connection statement cache.
#include <SQLiteCpp/Transaction.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/database.hpp"
#include "store/sqlite/impl/query.hpp"
#include "store/sqlite/inbox.hpp"
#include "store/sqlite/notifications.hpp"
#include "store/sqlite/orders.hpp"
#include "store/sqlite/outbox.hpp"
#include "store/sqlite/stock.hpp"

namespace store = orderflow::store;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test, removed afterwards.
class TempDir final {
  public:
    TempDir() {
        std::random_device seed;
        path_ = fs::temp_directory_path() /
                ("orderflow-store-" + std::to_string(getpid()) + "-" + std::to_string(seed()));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const fs::path& Path() const { return path_; }

  private:
    fs::path path_;
};

int64_t Pragma(SQLite::Database& db, const char* name) {
    return db.execAndGet(std::string("PRAGMA ") + name).getInt64();
}

}  // namespace

TEST_CASE("a database file is created under missing directories and keeps data on reopen") {
    TempDir dir;
    const auto path = dir.Path() / "nested" / "deeper" / "inventory.db";
    {
        auto db = store::OpenDatabase(path, store::Durability::kFull);
        store::StockTable stock(*db);
        stock.SeedIfEmpty({{"burger", 3}});
        stock.Take("burger", 1);
        store::CreateInboxSchema(*db);
        store::InboxRecord(*db, "m-1", 1);
    }
    REQUIRE(fs::exists(path));
    CHECK(store::Probe(path));
    auto db = store::OpenDatabase(path, store::Durability::kFull);
    store::StockTable stock(*db);
    stock.SeedIfEmpty(store::DefaultSeed());
    CHECK(stock.All() == std::map<std::string, int64_t>{{"burger", 2}});
    CHECK(store::InboxContains(*db, "m-1"));
}

TEST_CASE("the readiness probe fails for a database that does not exist") {
    TempDir dir;
    CHECK_FALSE(store::Probe(dir.Path() / "missing.db"));
}

TEST_CASE("connections use WAL, wait on locks and sync as their durability asks") {
    TempDir dir;
    auto full = store::OpenDatabase(dir.Path() / "a.db", store::Durability::kFull);
    auto normal = store::OpenDatabase(dir.Path() / "a.db", store::Durability::kNormal);
    CHECK(full->execAndGet("PRAGMA journal_mode").getString() == "wal");
    CHECK(normal->execAndGet("PRAGMA journal_mode").getString() == "wal");
    CHECK(Pragma(*full, "synchronous") == 2);    // FULL
    CHECK(Pragma(*normal, "synchronous") == 1);  // NORMAL
    CHECK(Pragma(*full, "foreign_keys") == 1);
    CHECK(Pragma(*full, "temp_store") == 2);  // MEMORY
}

TEST_CASE("a writer waits for another connection's write lock instead of failing") {
    TempDir dir;
    auto holder = store::OpenDatabase(dir.Path() / "a.db", store::Durability::kFull);
    auto waiter = store::OpenDatabase(dir.Path() / "a.db", store::Durability::kFull);
    holder->exec("BEGIN IMMEDIATE");
    std::thread release([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        holder->exec("COMMIT");
    });
    // Blocks in our busy handler until the holder commits, then takes the lock.
    CHECK_NOTHROW(waiter->exec("BEGIN IMMEDIATE"));
    release.join();
    waiter->exec("COMMIT");
}

TEST_CASE("a writer commits while a reader holds an older snapshot of the same file") {
    TempDir dir;
    const auto path = dir.Path() / "inventory.db";
    auto writer_db = store::OpenDatabase(path, store::Durability::kFull);
    auto reader_db = store::OpenDatabase(path, store::Durability::kNormal);
    store::StockTable writer(*writer_db);
    store::StockTable reader(*reader_db);
    writer.SeedIfEmpty({{"pizza", 5}});

    // Without WAL the commit below would wait for the reader's lock, then fail.
    SQLite::Transaction snapshot(*reader_db);
    CHECK(reader.Available("pizza") == 5);
    const auto start = std::chrono::steady_clock::now();
    {
        SQLite::Transaction txn(*writer_db, SQLite::TransactionBehavior::IMMEDIATE);
        writer.Take("pizza", 2);
        // Uncommitted writes are invisible to the other connection, which is not blocked.
        CHECK(reader.Available("pizza") == 5);
        txn.commit();
    }
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
    CHECK(reader.Available("pizza") == 5);  // still the snapshot
    snapshot.commit();
    CHECK(reader.Available("pizza") == 3);
}

TEST_CASE("the outbox relay's connection sees only committed outbox rows") {
    TempDir dir;
    const auto path = dir.Path() / "inventory.db";
    auto consumer = store::OpenDatabase(path, store::Durability::kFull);
    auto relay = store::OpenDatabase(path, store::Durability::kFull);
    store::CreateOutboxSchema(*consumer);
    store::CreateOutboxSchema(*relay);
    SQLite::Transaction txn(*consumer, SQLite::TransactionBehavior::IMMEDIATE);
    store::OutboxEntry entry;
    entry.message_id = "e-1";
    entry.body = "{}";
    store::OutboxAdd(*consumer, entry);
    CHECK(store::OutboxDepth(*relay) == 0);
    txn.commit();
    CHECK(store::OutboxDepth(*relay) == 1);
    const auto rows = store::OutboxFetch(*relay, 10);
    REQUIRE(rows.size() == 1);
    const std::array<int64_t, 1> ids{rows[0].id};
    store::OutboxDelete(*relay, ids);
    CHECK(store::OutboxDepth(*consumer) == 0);
}

TEST_CASE("connections opening a fresh file at once all create and use the schema") {
    TempDir dir;
    const auto path = dir.Path() / "ingress.db";
    constexpr int64_t kThreads = 6;
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            try {
                auto db = store::OpenDatabase(path, store::Durability::kNormal);
                store::CreateInboxSchema(*db);
                store::CreateOutboxSchema(*db);
                store::StockTable stock(*db);
                store::NotificationTable notifications(*db);
                store::OrderTable orders(*db);
                store::IdempotencyTable keys(*db);
                stock.SeedIfEmpty(store::DefaultSeed());
                for (int i = 0; i < 50; ++i) {
                    SQLite::Transaction txn(*db, SQLite::TransactionBehavior::IMMEDIATE);
                    const auto id = std::to_string(t) + "-" + std::to_string(i);
                    store::InboxRecord(*db, id, i);
                    orders.RecordStage(id, "accepted", "2026-11-21T12:00:00.000Z");
                    stock.Take("burger", 0);
                    txn.commit();
                }
            } catch (const std::exception& e) {
                errors[t] = e.what();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& error : errors) CHECK(error.empty());
    auto db = store::OpenDatabase(path, store::Durability::kNormal);
    CHECK(db->execAndGet("SELECT count(*) FROM processed_messages").getInt64() == kThreads * 50);
    CHECK(store::StockTable(*db).All() == store::DefaultSeed());  // seeded exactly once
}

TEST_CASE("closing a connection with cached statements really closes it") {
    TempDir dir;
    const auto path = dir.Path() / "notification.db";
    const auto wal = fs::path(path.string() + "-wal");
    {
        auto db = store::OpenDatabase(path, store::Durability::kFull);
        store::NotificationTable table(*db);
        table.Add({"o-1", "confirmed", "hi", "2026-11-21T12:00:00.000Z"});
        CHECK(table.ForOrder("o-1").size() == 1);
        CHECK(fs::exists(wal));
    }
    // SQLite removes the WAL when the last connection closes; a close refused because of
    // unfinalized statements would leave it behind.
    CHECK_FALSE(fs::exists(wal));
}

TEST_CASE("a connection opened after another closed reuses none of its statements") {
    // Handles of closed connections are often reused at the same address: a stale cache
    // entry would run a statement prepared for a different (freed) database.
    for (int i = 0; i < 200; ++i) {
        auto db = store::OpenDatabase(":memory:", store::Durability::kNormal);
        store::StockTable stock(*db);
        CHECK_FALSE(stock.Available("burger").has_value());
        stock.Set("burger", i);
        CHECK(stock.Available("burger") == i);
    }
}

TEST_CASE("a query nested inside the same cached statement gets a statement of its own") {
    auto db = store::OpenDatabase(":memory:", store::Durability::kNormal);
    store::StockTable stock(*db);
    stock.SeedIfEmpty({{"a", 1}, {"b", 2}});
    static constexpr const char* kSql = "SELECT quantity FROM stock WHERE sku = ?1";
    orderflow::store::impl::Query outer(*db, kSql);
    REQUIRE(outer.Bind(1, "a").Next());
    {
        orderflow::store::impl::Query inner(*db, kSql);
        REQUIRE(inner.Bind(1, "b").Next());
        CHECK(inner.Int64(0) == 2);
    }
    CHECK(outer.Int64(0) == 1);
    CHECK_FALSE(outer.Next());
}
