// Business handlers on an in-memory store, with a fixed clock and ids.
#include <SQLiteCpp/Transaction.h>

#include <catch2/catch.hpp>

#include "events/codec.hpp"
#include "handlers/inventory.hpp"
#include "handlers/notification.hpp"
#include "handlers/order_status.hpp"
#include "store/sqlite/database.hpp"
#include "store/sqlite/notifications.hpp"
#include "store/sqlite/orders.hpp"
#include "store/sqlite/stock.hpp"

using namespace orderflow;

namespace {

handlers::EventContext FixedContext() {
    handlers::EventContext ctx;
    ctx.clock = [] { return events::FromUnixMillis(1795262400000); };
    ctx.new_id = [n = 0]() mutable {
        return "00000000-0000-4000-8000-" + std::string(11, '0') + std::to_string(++n % 10);
    };
    return ctx;
}

events::OrderPlaced Order(std::vector<events::Item> items) {
    events::OrderPlaced order;
    order.envelope.event_id = "11111111-1111-4111-8111-111111111111";
    order.envelope.order_id = "22222222-2222-4222-8222-222222222222";
    order.envelope.occurred_at = "2026-11-21T12:00:00.000Z";
    order.user_id = "user1";
    order.items = std::move(items);
    return order;
}

}  // namespace

TEST_CASE("a reservation takes every item or none") {
    auto db = store::OpenDatabase(":memory:", store::Durability::kNormal);
    store::StockTable stock(*db);
    stock.SeedIfEmpty({{"burger", 2}, {"fries", 1}});
    const auto ctx = FixedContext();

    auto ok = handlers::ReserveStock(Order({{"burger", 2}, {"fries", 1}}), stock, ctx);
    REQUIRE(std::holds_alternative<events::InventoryReserved>(ok));
    CHECK(stock.Available("burger") == 0);
    CHECK(stock.Available("fries") == 0);

    stock.Set("burger", 5);
    auto partial = handlers::ReserveStock(Order({{"burger", 1}, {"fries", 1}}), stock, ctx);
    REQUIRE(std::holds_alternative<events::InventoryRejected>(partial));
    const auto& rejected = std::get<events::InventoryRejected>(partial);
    CHECK(rejected.reason_code == events::RejectReason::kOutOfStock);
    CHECK(stock.Available("burger") == 5);  // nothing taken
}

TEST_CASE("an unknown sku is rejected with the reason people read") {
    auto db = store::OpenDatabase(":memory:", store::Durability::kNormal);
    store::StockTable stock(*db);
    stock.SeedIfEmpty(store::DefaultSeed());
    auto outcome = handlers::ReserveStock(Order({{"food", 1}}), stock, FixedContext());
    REQUIRE(std::holds_alternative<events::InventoryRejected>(outcome));
    const auto& rejected = std::get<events::InventoryRejected>(outcome);
    CHECK(rejected.reason_code == events::RejectReason::kUnknownSku);
    CHECK(rejected.reason == "Item 'food' not found in inventory");
    CHECK(rejected.envelope.order_id == "22222222-2222-4222-8222-222222222222");
    CHECK(rejected.envelope.occurred_at == "2026-11-21T12:00:00.000Z");
    CHECK(events::Validate(events::EventType::kInventoryRejected, events::Encode(rejected)));
}

TEST_CASE("the same sku listed twice is summed before the stock check") {
    auto db = store::OpenDatabase(":memory:", store::Durability::kNormal);
    store::StockTable stock(*db);
    stock.SeedIfEmpty({{"pizza", 3}});
    auto outcome =
        handlers::ReserveStock(Order({{"pizza", 2}, {"pizza", 2}}), stock, FixedContext());
    CHECK(std::holds_alternative<events::InventoryRejected>(outcome));
    CHECK(stock.Available("pizza") == 3);
}

TEST_CASE("notifications read the way the reference logs did and are recorded once per call") {
    auto db = store::OpenDatabase(":memory:", store::Durability::kNormal);
    store::NotificationTable table(*db);
    store::StockTable stock(*db);
    stock.SeedIfEmpty({{"burger", 10}});
    const auto ctx = FixedContext();
    auto reserved = handlers::ReserveStock(Order({{"burger", 1}}), stock, ctx);
    auto sent = handlers::SendNotification(reserved, table, ctx);
    CHECK(sent.message ==
          "Order 22222222-2222-4222-8222-222222222222 confirmed! Reserved items: burger: 1");
    CHECK(sent.outcome == events::NotificationOutcome::kConfirmed);
    auto records = table.ForOrder("22222222-2222-4222-8222-222222222222");
    REQUIRE(records.size() == 1);
    CHECK(records[0].outcome == "confirmed");
    CHECK(events::Validate(events::EventType::kNotificationSent, events::Encode(sent)));

    auto rejected = handlers::ReserveStock(Order({{"food", 1}}), stock, ctx);
    CHECK(
        handlers::NotificationText(rejected) ==
        "Order 22222222-2222-4222-8222-222222222222 rejected: Item 'food' not found in inventory");
}

TEST_CASE("the order projection goes accepted, rejected, notified for a rejected order") {
    auto db = store::OpenDatabase(":memory:", store::Durability::kNormal);
    store::OrderTable orders(*db);
    store::StockTable stock(*db);
    store::NotificationTable table(*db);
    const auto ctx = FixedContext();
    auto order = Order({{"food", 1}});
    orders.RecordStage(order.envelope.order_id, "accepted", "2026-11-21T12:00:00.000Z");
    auto rejected = handlers::ReserveStock(order, stock, ctx);
    auto sent = handlers::SendNotification(rejected, table, ctx);
    // Out of order on purpose: the notification overtakes the rejection.
    REQUIRE(handlers::ProjectOrderEvent(events::Encode(sent), orders));
    REQUIRE(handlers::ProjectOrderEvent(events::Encode(rejected), orders));
    REQUIRE(handlers::ProjectOrderEvent(events::Encode(rejected), orders));  // duplicate
    auto view = orders.Find(order.envelope.order_id);
    REQUIRE(view);
    CHECK(view->status == "notified");
    CHECK(view->outcome == "rejected");
    REQUIRE(view->history.size() == 3);
    CHECK(view->history[0].status == "accepted");
    CHECK(view->history[1].status == "rejected");
    CHECK(view->history[2].status == "notified");
    CHECK_FALSE(handlers::ProjectOrderEvent("not json", orders));
}
