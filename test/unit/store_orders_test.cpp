// Unit tests of the ingress's order-status projection and Idempotency-Key records.
#include <catch2/catch.hpp>
#include <memory>
#include <stdexcept>

#include "store/sqlite/database.hpp"
#include "store/sqlite/orders.hpp"

namespace store = orderflow::store;

namespace {

std::unique_ptr<SQLite::Database> Memory() {
    return store::OpenDatabase(":memory:", store::Durability::kNormal);
}

}  // namespace

// ---- order projection ----

TEST_CASE("stages rank accepted below reserved and rejected, and those below notified") {
    CHECK(store::StageRank("accepted") == 0);
    CHECK(store::StageRank("reserved") == 1);
    CHECK(store::StageRank("rejected") == 1);
    CHECK(store::StageRank("notified") == 2);
    CHECK(store::StageRank("shipped") < 0);
}

TEST_CASE("a reservation recorded before its acceptance still reads as reserved") {
    auto db = Memory();
    store::OrderTable orders(*db);
    orders.RecordStage("o-1", "reserved", "2026-11-21T12:00:00.200Z", "confirmed");
    orders.RecordStage("o-1", "accepted", "2026-11-21T12:00:00.100Z");
    auto view = orders.Find("o-1");
    REQUIRE(view);
    CHECK(view->order_id == "o-1");
    CHECK(view->status == "reserved");
    CHECK(view->outcome == "confirmed");
    REQUIRE(view->history.size() == 2);
    CHECK(view->history[0].status == "accepted");
    CHECK(view->history[0].at == "2026-11-21T12:00:00.100Z");
    CHECK(view->history[1].status == "reserved");
}

TEST_CASE("a repeated stage keeps the time it was first recorded") {
    auto db = Memory();
    store::OrderTable orders(*db);
    orders.RecordStage("o-1", "accepted", "2026-11-21T12:00:00.000Z");
    orders.RecordStage("o-1", "accepted", "2026-11-21T12:05:00.000Z");
    auto view = orders.Find("o-1");
    REQUIRE(view);
    REQUIRE(view->history.size() == 1);
    CHECK(view->history[0].at == "2026-11-21T12:00:00.000Z");
    CHECK(view->status == "accepted");
    CHECK_FALSE(view->outcome.has_value());
}

TEST_CASE("a rejected order goes accepted, rejected, notified with outcome rejected") {
    auto db = Memory();
    store::OrderTable orders(*db);
    orders.RecordStage("o-1", "notified", "2026-11-21T12:00:00.300Z", "rejected");
    orders.RecordStage("o-1", "accepted", "2026-11-21T12:00:00.100Z");
    orders.RecordStage("o-1", "rejected", "2026-11-21T12:00:00.200Z", "rejected");
    auto view = orders.Find("o-1");
    REQUIRE(view);
    CHECK(view->status == "notified");
    CHECK(view->outcome == "rejected");
    REQUIRE(view->history.size() == 3);
    CHECK(view->history[0].status == "accepted");
    CHECK(view->history[1].status == "rejected");
    CHECK(view->history[2].status == "notified");
}

TEST_CASE("an order never recorded is not found and an unknown stage is refused") {
    auto db = Memory();
    store::OrderTable orders(*db);
    CHECK_FALSE(orders.Find("o-404").has_value());
    CHECK_THROWS_AS(orders.RecordStage("o-1", "shipped", "2026-11-21T12:00:00.000Z"),
                    std::invalid_argument);
    CHECK_FALSE(orders.Find("o-1").has_value());
}

TEST_CASE("orders are counted by their latest stage only") {
    auto db = Memory();
    store::OrderTable orders(*db);
    orders.RecordStage("o-1", "accepted", "2026-11-21T12:00:00.000Z");
    orders.RecordStage("o-2", "accepted", "2026-11-21T12:00:00.000Z");
    orders.RecordStage("o-2", "reserved", "2026-11-21T12:00:01.000Z", "confirmed");
    orders.RecordStage("o-3", "rejected", "2026-11-21T12:00:01.000Z", "rejected");
    orders.RecordStage("o-3", "notified", "2026-11-21T12:00:02.000Z", "rejected");
    CHECK(orders.CountWithStatus("accepted") == 1);
    CHECK(orders.CountWithStatus("reserved") == 1);
    CHECK(orders.CountWithStatus("rejected") == 0);
    CHECK(orders.CountWithStatus("notified") == 1);
}

// ---- idempotency keys ----

TEST_CASE("an idempotency key keeps its first answer and is pruned after its time") {
    auto db = Memory();
    store::IdempotencyTable keys(*db);
    CHECK_FALSE(keys.Find("k-1").has_value());
    keys.Save({"k-1", "hash-a", 202, R"({"status":"accepted"})"}, 1000);
    keys.Save({"k-1", "hash-b", 500, "later"}, 1500);  // a repeat changes nothing
    keys.Save({"k-2", "hash-c", 202, "{}"}, 3000);
    auto found = keys.Find("k-1");
    REQUIRE(found);
    CHECK(found->key == "k-1");
    CHECK(found->request_hash == "hash-a");
    CHECK(found->status == 202);
    CHECK(found->response_body == R"({"status":"accepted"})");
    CHECK(keys.Prune(2000) == 1);
    CHECK_FALSE(keys.Find("k-1").has_value());
    CHECK(keys.Find("k-2").has_value());
}

TEST_CASE("an unconfirmed-order note gives way to the first final answer, never the reverse") {
    auto db = Memory();
    store::IdempotencyTable keys(*db);
    constexpr int kUnconfirmed = store::IdempotencyRecord::kUnconfirmed;
    keys.Save({"k-1", "hash-a", kUnconfirmed, "order-1 event-1 at-1"}, 1000);
    auto found = keys.Find("k-1");
    REQUIRE(found);
    CHECK(found->status == kUnconfirmed);
    CHECK(found->response_body == "order-1 event-1 at-1");
    keys.Save({"k-1", "hash-a", kUnconfirmed, "order-1 event-1 at-1"}, 1100);  // failed again
    keys.Save({"k-1", "hash-a", 202, "accepted"}, 1200);                       // then confirmed
    found = keys.Find("k-1");
    REQUIRE(found);
    CHECK(found->status == 202);
    CHECK(found->response_body == "accepted");
    keys.Save({"k-1", "hash-a", kUnconfirmed, "order-2 event-2 at-2"}, 1300);
    CHECK(keys.Find("k-1")->status == 202);
    CHECK(keys.Find("k-1")->response_body == "accepted");
    CHECK(keys.Prune(1200) == 0);  // the final answer's time counts from when it was given
    CHECK(keys.Prune(1201) == 1);
}
