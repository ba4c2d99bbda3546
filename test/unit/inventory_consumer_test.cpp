// The inventory consumer decodes each OrderPlaced of a batch once (in Prepare) and hands that
// decoded order to Handle: each delivery must still get its own order, and a delivery whose
// body is not the one Prepare saw is decoded afresh. SQLite in a temporary directory.
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "events/codec.hpp"
#include "events/ids.hpp"
#include "service/consumers.hpp"
#include "store/store.hpp"

namespace {

using orderflow::broker::Delivery;
using orderflow::service::Emitted;
using orderflow::service::InventoryMessageHandler;

std::string OrderBody(const std::string& order_id, const std::string& sku, int quantity) {
    orderflow::events::OrderPlaced order;
    order.envelope.event_id = orderflow::events::NewUuid();
    order.envelope.type = orderflow::events::EventType::kOrderPlaced;
    order.envelope.occurred_at = "2026-12-03T12:00:00.000Z";
    order.envelope.order_id = order_id;
    order.user_id = "user1";
    order.items = {{sku, quantity}};
    return orderflow::events::Encode(order);
}

Delivery DeliveryOf(std::string body) {
    Delivery delivery;
    delivery.properties.message_id = orderflow::events::NewUuid();
    delivery.body = std::move(body);
    return delivery;
}

struct TempStore {
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() /
        ("orderflow-inventory-consumer-" + std::to_string(std::random_device{}()));
    std::unique_ptr<orderflow::store::Store> store;
    TempStore() {
        std::filesystem::create_directories(dir);
        store = orderflow::store::OpenStore(
            {.service = "inventory", .database_url = "", .sqlite_path = dir / "inventory.db"});
    }
    ~TempStore() {
        store.reset();
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
};

}  // namespace

TEST_CASE("the inventory consumer handles each delivery of a batch with its own order",
          "[service][inventory]") {
    TempStore temp;
    auto session = temp.store->Connect(orderflow::store::Durability::kFull);
    REQUIRE(session->SeedStockIfEmpty({{"burger", 10}, {"fries", 10}}));
    InventoryMessageHandler handler({});

    const auto first_id = orderflow::events::NewUuid();
    const auto second_id = orderflow::events::NewUuid();
    const auto replaced_id = orderflow::events::NewUuid();
    std::vector<Delivery> batch{DeliveryOf(OrderBody(first_id, "burger", 1)),
                                DeliveryOf(OrderBody(second_id, "fries", 2))};
    std::vector<std::vector<Emitted>> emitted(batch.size());
    std::vector<std::string> handled_ids;
    auto result = session->Transact([&](orderflow::store::UnitOfWork& unit) {
        const std::vector<const Delivery*> pointers{&batch[0], &batch[1]};
        handler.Prepare(pointers, unit);
        // Handled in reverse order, and the second body replaced after Prepare saw it (same
        // address, another order): each must be read from its own current body.
        batch[0].body = OrderBody(replaced_id, "fries", 3);
        for (size_t i = batch.size(); i-- > 0;) {
            const auto outcome = handler.Handle(batch[i], unit, emitted[i]);
            handled_ids.push_back(outcome.order_id);
        }
    });
    REQUIRE(result);
    CHECK(handled_ids == std::vector<std::string>{second_id, replaced_id});
    REQUIRE(emitted[1].size() == 1);
    CHECK(emitted[1][0].order_id() == second_id);
    CHECK(emitted[1][0].body().find("\"fries\"") != std::string::npos);
    REQUIRE(emitted[0].size() == 1);
    CHECK(emitted[0][0].order_id() == replaced_id);
    const auto stock = session->StockLevels();
    REQUIRE(stock);
    CHECK(stock->at("burger") == 10);  // the replaced order (burger 1) was never taken
    CHECK(stock->at("fries") == 5);    // 2 + 3
}
