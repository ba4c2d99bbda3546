// The store interfaces (store/store.hpp) against both backends: SQLite in a temporary file,
// and PostgreSQL when scripts/test.sh started one (ORDERFLOW_TEST_DATABASE_URL; each test
// gets a schema of its own). The guarantees the pipeline builds on: an id's effect once,
// stock never below zero, savepoints, outbox leases, Idempotency-Key claims, errors as values.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "store/postgres/postgres_store.hpp"
#include "store/store.hpp"

namespace {

using orderflow::store::Durability;
using orderflow::store::OutboxEntry;
using orderflow::store::StoreError;
using orderflow::store::UnitOfWork;

std::string RandomName() {
    static std::mt19937_64 rng{std::random_device{}()};
    return "t" + std::to_string(rng() % 1000000000000ULL);
}

struct Backend {
    std::string name;
    std::string service;
    std::unique_ptr<orderflow::store::Store> store;
    std::filesystem::path dir;
    ~Backend() {
        store.reset();
        if (!dir.empty()) std::filesystem::remove_all(dir);
    }
};

std::vector<std::unique_ptr<Backend>> Backends() {
    std::vector<std::unique_ptr<Backend>> all;
    auto sqlite = std::make_unique<Backend>();
    sqlite->name = "sqlite";
    sqlite->dir = std::filesystem::temp_directory_path() / ("orderflow-store-" + RandomName());
    std::filesystem::create_directories(sqlite->dir);
    sqlite->store = orderflow::store::OpenStore(
        {.service = "inventory", .database_url = "", .sqlite_path = sqlite->dir / "s.db"});
    all.push_back(std::move(sqlite));
    const char* url = std::getenv("ORDERFLOW_TEST_DATABASE_URL");
    // Skipping PostgreSQL is a choice (the variable set empty), never an accident.
    if (url == nullptr) {
        FAIL(
            "ORDERFLOW_TEST_DATABASE_URL is not set: run the tests through scripts/test.sh, or "
            "set it empty to skip the PostgreSQL half on purpose");
    }
    if (*url) {
        auto pg = std::make_unique<Backend>();
        pg->name = "postgres";
        pg->service = RandomName();
        pg->store = orderflow::store::OpenStore(
            {.service = pg->service, .database_url = url, .sqlite_path = {}});
        all.push_back(std::move(pg));
    } else {
        WARN("ORDERFLOW_TEST_DATABASE_URL unset: the PostgreSQL half of this test is skipped");
    }
    return all;
}

std::vector<std::string> Ids(std::initializer_list<const char*> ids) {
    return {ids.begin(), ids.end()};
}

void Seed(orderflow::store::Session& session, int64_t burgers) {
    REQUIRE(session.Transact([&](UnitOfWork& unit) { unit.SetStock("burger", burgers); }));
}

OutboxEntry Event(const std::string& id) {
    return OutboxEntry{.id = 0,
                       .exchange = "orders",
                       .routing_key = "inventory.reserved",
                       .message_id = id,
                       .correlation_id = "o",
                       .type = "InventoryReserved",
                       .app_id = "inventory",
                       .traceparent = "",
                       .timestamp = 1,
                       .body = "{}"};
}

}  // namespace

TEST_CASE(
    "store: a message id claimed once is a duplicate afterwards, and its effect happens once") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        auto session = backend->store->Connect();
        Seed(*session, 10);
        for (int round = 0; round < 2; ++round) {
            REQUIRE(session->Transact([&](UnitOfWork& unit) {
                const auto ids = Ids({"m1", "m2", "m1"});
                const auto fresh = unit.Claim(ids, 1);
                CHECK(fresh[2] == false);  // the same id twice in one batch: once
                for (size_t i = 0; i < ids.size(); ++i) {
                    if (fresh[i]) unit.StockRows().Take("burger", 1);
                }
            }));
        }
        CHECK(session->StockLevels().value().at("burger") == 8);
    }
}

TEST_CASE("store: a Transact inside a Transact of the same session is refused, the outer kept") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        auto session = backend->store->Connect();
        REQUIRE(session->Transact([&](UnitOfWork& unit) {
            unit.SetStock("burger", 5);
            const auto inner =
                session->Transact([&](UnitOfWork& nested) { nested.SetStock("fries", 7); });
            REQUIRE_FALSE(inner);
            CHECK(inner.error().kind == StoreError::Kind::kBug);
            unit.SetStock("pizza", 3);  // the outer transaction goes on
        }));
        const auto levels = session->StockLevels().value();
        CHECK(levels.at("burger") == 5);
        CHECK(levels.at("pizza") == 3);
        CHECK_FALSE(levels.contains("fries"));
        // Refused only while nested: the session works as before afterwards.
        REQUIRE(session->Transact([&](UnitOfWork& unit) { unit.SetStock("fries", 7); }));
        CHECK(session->StockLevels().value().at("fries") == 7);
    }
}

TEST_CASE("store: a claim given back (no effect) can be claimed again") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        auto session = backend->store->Connect();
        REQUIRE(session->Transact([&](UnitOfWork& unit) {
            const auto ids = Ids({"m1"});
            CHECK(unit.Claim(ids, 1).front());
            unit.Unclaim(ids);
        }));
        REQUIRE(session->Transact(
            [&](UnitOfWork& unit) { CHECK(unit.Claim(Ids({"m1"}), 1).front()); }));
    }
}

TEST_CASE("store: pruning the inbox forgets exactly the ids processed before the cutoff") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        auto session = backend->store->Connect();
        REQUIRE(session->Transact([&](UnitOfWork& unit) {
            CHECK(unit.Claim(Ids({"old1", "old2"}), 1000) == std::vector<bool>{true, true});
            CHECK(unit.Claim(Ids({"edge", "new1"}), 3000) == std::vector<bool>{true, true});
        }));
        const auto pruned = session->PruneInbox(3000);  // strictly before 3000
        REQUIRE(pruned);
        CHECK(*pruned == 2);
        REQUIRE(session->Transact([&](UnitOfWork& unit) {
            // Forgotten ids are new again; the others are still duplicates.
            CHECK(unit.Claim(Ids({"old1", "old2", "edge", "new1"}), 9000) ==
                  std::vector<bool>{true, true, false, false});
        }));
        CHECK(session->PruneInbox(3000).value() == 0);
    }
}

TEST_CASE("store: on PostgreSQL each service has a schema of its own, with either URI scheme") {
    const char* url = std::getenv("ORDERFLOW_TEST_DATABASE_URL");
    if (!url || !*url) {
        WARN("ORDERFLOW_TEST_DATABASE_URL unset: this PostgreSQL test is skipped");
        return;
    }
    std::string short_url(url);
    REQUIRE(short_url.starts_with("postgresql://"));
    short_url.replace(0, std::string_view("postgresql://").size(), "postgres://");
    const auto service_a = RandomName();
    const auto service_b = RandomName();
    auto a =
        orderflow::store::OpenStore({.service = service_a, .database_url = url, .sqlite_path = {}});
    auto b = orderflow::store::OpenStore(
        {.service = service_b, .database_url = short_url, .sqlite_path = {}});
    auto session_a = a->Connect();
    auto session_b = b->Connect();
    Seed(*session_a, 5);
    CHECK(session_a->StockLevels().value().at("burger") == 5);
    CHECK(session_b->StockLevels().value().empty());
    REQUIRE(session_b->Transact([&](UnitOfWork& unit) { CHECK(unit.Claim(Ids({"m"}), 1)[0]); }));
    REQUIRE(session_a->Transact([&](UnitOfWork& unit) { CHECK(unit.Claim(Ids({"m"}), 1)[0]); }));
    // The same service opened again (a second replica) shares its schema.
    auto a_again = orderflow::store::OpenStore(
        {.service = service_a, .database_url = short_url, .sqlite_path = {}});
    CHECK(a_again->Connect()->StockLevels().value().at("burger") == 5);
}

TEST_CASE("store: a savepoint rollback undoes one item's effects and keeps the others") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        auto session = backend->store->Connect();
        Seed(*session, 10);
        REQUIRE(session->Transact([&](UnitOfWork& unit) {
            unit.LockStock(Ids({"burger"}));
            unit.Savepoint();
            unit.StockRows().Take("burger", 3);
            unit.AddOutbox(Event("kept"));
            unit.ReleaseSavepoint();
            unit.Savepoint();
            unit.StockRows().Take("burger", 5);
            unit.AddOutbox(Event("undone"));
            unit.RollbackSavepoint();
            CHECK(unit.StockRows().Available("burger") == 7);
        }));
        CHECK(session->StockLevels().value().at("burger") == 7);
        const auto rows = session->ClaimOutbox(10, std::chrono::seconds(10)).value();
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].message_id == "kept");
    }
}

TEST_CASE("store: taking more stock than there is fails and changes nothing") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        auto session = backend->store->Connect();
        Seed(*session, 2);
        auto result = session->Transact([&](UnitOfWork& unit) {
            unit.StockRows().Take("burger", 1);
            unit.StockRows().Take("burger", 5);
        });
        CHECK_FALSE(result.has_value());
        CHECK(session->StockLevels().value().at("burger") == 2);
        CHECK(session
                  ->Transact([&](UnitOfWork& unit) {
                      CHECK_FALSE(unit.StockRows().Available("nothing").has_value());
                  })
                  .has_value());
    }
}

TEST_CASE("store: concurrent sessions never take stock below zero nor apply one id twice") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        {
            auto seed = backend->store->Connect();
            Seed(*seed, 50);
        }
        // 4 sessions (replicas), each 40 orders of 1 burger; every order id is sent by two
        // sessions, so 80 distinct ids compete for 50 burgers.
        std::atomic<int> reserved{0};
        std::atomic<int> failures{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                auto session = backend->store->Connect();
                for (int i = 0; i < 40; ++i) {
                    const std::string id = "order-" + std::to_string((t / 2) * 40 + i);
                    int got = 0;
                    auto done = session->Transact([&](UnitOfWork& unit) {
                        got = 0;
                        if (!unit.Claim(std::vector<std::string>{id}, 1).front()) return;
                        unit.LockStock(Ids({"burger"}));
                        auto& stock = unit.StockRows();
                        const auto left = stock.Available("burger").value_or(0);
                        // Widens the window between the read and the write: without the
                        // row lock, another session would read the same stock meanwhile.
                        std::this_thread::sleep_for(std::chrono::milliseconds(2));
                        if (left >= 1) {
                            stock.Take("burger", 1);
                            got = 1;
                        }
                    });
                    if (done) {
                        reserved += got;
                    } else {
                        ++failures;
                    }
                }
            });
        }
        for (auto& thread : threads) thread.join();
        CHECK(failures == 0);
        CHECK(reserved == 50);
        CHECK(backend->store->Connect()->StockLevels().value().at("burger") == 0);
    }
}

TEST_CASE("store: an outbox row held by one relay is not taken by another until released") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        if (!backend->store->Shared()) continue;  // SQLite: one relay per file, no lease
        auto a = backend->store->Connect();
        auto b = backend->store->Connect();
        REQUIRE(a->Transact([&](UnitOfWork& unit) {
            for (int i = 0; i < 5; ++i) unit.AddOutbox(Event("e" + std::to_string(i)));
        }));
        const auto held = a->ClaimOutbox(3, std::chrono::seconds(10)).value();
        REQUIRE(held.size() == 3);
        CHECK(held[0].message_id == "e0");
        const auto rest = b->ClaimOutbox(10, std::chrono::seconds(10)).value();
        REQUIRE(rest.size() == 2);
        CHECK(rest[0].message_id == "e3");
        CHECK(b->ClaimOutbox(10, std::chrono::seconds(10)).value().empty());
        std::vector<int64_t> ids;
        for (const auto& row : held) ids.push_back(row.id);
        REQUIRE(a->ReleaseOutbox(ids));
        CHECK(b->ClaimOutbox(10, std::chrono::seconds(10)).value().size() == 3);
    }
}

TEST_CASE("store: outbox rows a relay took stay its own until released, and a batch deletes them") {
    // The relay keeps confirmed rows claimed until a consumer's batch transaction deletes
    // them: a second claim must not return them (they would be published twice), and a
    // batch that rolls back must not have deleted them.
    for (auto& backend : Backends()) {
        INFO(backend->name);
        auto consumer = backend->store->Connect();
        auto relay = backend->store->Connect();
        REQUIRE(consumer->Transact([&](UnitOfWork& unit) {
            for (int i = 0; i < 3; ++i) unit.AddOutbox(Event("d" + std::to_string(i)));
        }));
        const auto taken = relay->ClaimOutbox(10, std::chrono::seconds(10)).value();
        REQUIRE(taken.size() == 3);
        CHECK(relay->ClaimOutbox(10, std::chrono::seconds(10)).value().empty());
        // Given back: that row alone, not the held rows after it.
        const std::vector<int64_t> middle{taken[1].id};
        REQUIRE(relay->ReleaseOutbox(middle));
        const auto again = relay->ClaimOutbox(10, std::chrono::seconds(10)).value();
        REQUIRE(again.size() == 1);
        CHECK(again[0].message_id == "d1");
        CHECK(relay->ClaimOutbox(10, std::chrono::seconds(10)).value().empty());

        const std::vector<int64_t> first_two{taken[0].id, taken[1].id};
        bool rolled_back = false;
        try {
            rolled_back = !consumer->Transact([&](UnitOfWork& unit) {
                unit.DeleteOutbox(first_two);
                throw std::runtime_error("the batch fails");
            });
        } catch (const std::runtime_error&) {
            rolled_back = true;
        }
        CHECK(rolled_back);
        CHECK(consumer->OutboxDepth().value() == 3);
        REQUIRE(consumer->Transact([&](UnitOfWork& unit) { unit.DeleteOutbox(first_two); }));
        CHECK(consumer->OutboxDepth().value() == 1);
        // Rows committed after the relay's last claim are still found by its next one.
        REQUIRE(consumer->Transact([&](UnitOfWork& unit) { unit.AddOutbox(Event("d3")); }));
        const auto later = relay->ClaimOutbox(10, std::chrono::seconds(10)).value();
        REQUIRE(later.size() == 1);
        CHECK(later[0].message_id == "d3");
    }
}

TEST_CASE("store: an outbox lease that expires lets another relay take the rows") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        if (!backend->store->Shared()) continue;
        auto a = backend->store->Connect();
        auto b = backend->store->Connect();
        REQUIRE(a->Transact([&](UnitOfWork& unit) { unit.AddOutbox(Event("left")); }));
        REQUIRE(a->ClaimOutbox(10, std::chrono::milliseconds(300)).value().size() == 1);
        CHECK(b->ClaimOutbox(10, std::chrono::seconds(10)).value().empty());
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        const auto taken = b->ClaimOutbox(10, std::chrono::seconds(10)).value();
        REQUIRE(taken.size() == 1);
        CHECK(taken[0].message_id == "left");
    }
}

TEST_CASE("store: an Idempotency-Key claimed by one session is in flight for another") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        auto a = backend->store->Connect();
        auto b = backend->store->Connect();
        const auto stale = std::chrono::seconds(30);
        auto first = a->ClaimKey("k", "hash", "note-a", 1000, stale).value();
        CHECK(first.claimed);
        auto second = b->ClaimKey("k", "hash", "note-b", 1001, stale).value();
        CHECK_FALSE(second.claimed);
        REQUIRE(second.prior.has_value());
        CHECK(second.prior->status == orderflow::store::IdempotencyRecord::kInFlight);
        // The first answer is kept; a repeat then finds it.
        REQUIRE(a->Transact([&](UnitOfWork& unit) {
            unit.SaveKey({"k", "hash", 202, "answer"}, 1002);
        }));
        auto third = b->ClaimKey("k", "hash", "note-b", 1003, stale).value();
        CHECK_FALSE(third.claimed);
        CHECK(third.prior->status == 202);
        CHECK(third.prior->response_body == "answer");
        // A mark whose replica died (older than `stale`) is taken over, with the event the
        // dead replica meant to publish: the heir publishes that one, not another.
        CHECK(a->ClaimKey("k2", "h", "note-a", 1000, stale).value().claimed);
        auto heir = b->ClaimKey("k2", "h", "note-b", 1000 + 31000, stale).value();
        CHECK(heir.claimed);
        REQUIRE(heir.prior.has_value());
        CHECK(heir.prior->response_body == "note-a");
        // Released without an answer: claimable again, still with that event.
        REQUIRE(b->ReleaseKey("k2"));
        auto again = a->ClaimKey("k2", "h", "note-c", 40000, stale).value();
        CHECK(again.claimed);
        REQUIRE(again.prior.has_value());
        CHECK(again.prior->response_body == "note-a");
    }
}

TEST_CASE("store: a key in flight on a database connection that is gone is taken over at once") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        if (!backend->store->Shared()) continue;  // SQLite: one replica, nothing to take over
        const auto stale = std::chrono::seconds(30);
        auto b = backend->store->Connect();
        {
            auto a = backend->store->Connect();
            REQUIRE(a->ClaimKey("k", "h", "note-a", 1000, stale).value().claimed);
            CHECK_FALSE(b->ClaimKey("k", "h", "note-b", 1001, stale).value().claimed);
        }  // a's connection closes, as a killed replica's does
        // The server ends the backend as soon as it sees the connection closed.
        bool taken = false;
        for (int i = 0; i < 50 && !taken; ++i) {
            taken = b->ClaimKey("k", "h", "note-b", 1002, stale).value().claimed;
            if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        CHECK(taken);
        CHECK(b->FindKey("k").value()->response_body == "note-a");
    }
}

TEST_CASE("store: analytics figures and the stream offset commit together and add up") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        auto session = backend->store->Connect();
        CHECK_FALSE(session->NextStreamOffset().value().has_value());  // nothing stored yet
        CHECK(session->LoadStats().value().total_orders == 0);
        const orderflow::store::StatsFigures batch{
            3, 1, {{"2026-11-21T12:00Z", 2}, {"2026-11-21T12:01Z", 1}}};
        for (int64_t offset : {10, 20}) {
            REQUIRE(session->Transact([&](UnitOfWork& unit) {
                unit.StatsRows().Add(batch);
                unit.StatsRows().SetNextOffset(offset);
            }));
        }
        // A batch whose transaction fails leaves figures and offset as they were.
        auto failed = session->Transact([&](UnitOfWork& unit) {
            unit.StatsRows().Add(batch);
            unit.StatsRows().SetNextOffset(30);
            throw orderflow::store::StoreException({StoreError::Kind::kBug, "test"});
        });
        CHECK_FALSE(failed.has_value());
        auto reader = backend->store->Connect(Durability::kNormal);
        CHECK(reader->NextStreamOffset().value() == std::optional<int64_t>(20));
        const auto figures = reader->LoadStats().value();
        CHECK(figures.total_orders == 6);
        CHECK(figures.failed_orders == 2);
        CHECK(figures.orders_per_minute ==
              std::map<std::string, int64_t>{{"2026-11-21T12:00Z", 4}, {"2026-11-21T12:01Z", 2}});
    }
}

TEST_CASE("store: a batch costs the same number of round trips whatever its size") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        if (!backend->store->Shared()) continue;  // SQLite has no round trips
        auto session = backend->store->Connect();
        Seed(*session, 100000);
        auto batch = [&](int size) {
            const auto before = session->RoundTrips();
            REQUIRE(session->Transact([&](UnitOfWork& unit) {
                std::vector<std::string> ids;
                for (int i = 0; i < size; ++i)
                    ids.push_back(std::to_string(size) + "-" + std::to_string(i));
                const auto fresh = unit.Claim(ids, 1);
                unit.LockStock(Ids({"burger"}));
                for (int i = 0; i < size; ++i) {
                    REQUIRE(fresh[static_cast<size_t>(i)]);
                    unit.Savepoint();
                    unit.StockRows().Take("burger", 1);
                    unit.AddOutbox(Event(ids[static_cast<size_t>(i)]));
                    unit.NotificationRows().Add({"o", "confirmed", "m", "t"});
                    unit.OrderRows().RecordStage(ids[static_cast<size_t>(i)], "reserved", "t",
                                                 "confirmed");
                    unit.ReleaseSavepoint();
                }
                unit.Unclaim(std::vector<std::string>{ids.front()});
            }));
            return session->RoundTrips() - before;
        };
        const auto small = batch(2);
        const auto large = batch(200);
        CHECK(small == large);
        CHECK(large <= 10);
        CHECK(session->StockLevels().value().at("burger") == 100000 - 202);
    }
}

TEST_CASE("store: a lost database connection is reported as unavailable, then reconnected") {
    for (auto& backend : Backends()) {
        INFO(backend->name);
        if (!backend->store->Shared()) continue;
        const char* url = std::getenv("ORDERFLOW_TEST_DATABASE_URL");
        auto session = backend->store->Connect();
        REQUIRE(session->Ping());
        REQUIRE(session->Transact([](UnitOfWork&) {}));
        const int closed = orderflow::store::postgres::TerminateConnections(url, backend->service);
        REQUIRE(closed >= 1);
        auto lost = session->Transact([](UnitOfWork& unit) { unit.SetStock("x", 1); });
        REQUIRE_FALSE(lost.has_value());
        CHECK(lost.error().kind == StoreError::Kind::kUnavailable);
        // The next call connects again by itself.
        CHECK(session->Transact([](UnitOfWork& unit) { unit.SetStock("x", 1); }).has_value());
    }
}
