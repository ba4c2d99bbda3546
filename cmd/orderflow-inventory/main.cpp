// orderflow-inventory: reserves stock for OrderPlaced events, exactly once.
#include "broker/topology.hpp"
#include "handlers/context.hpp"
#include "service/consumers.hpp"
#include "service/queries.hpp"
#include "service/runtime.hpp"
#include "service/store_access.hpp"
#include "service/store_writer.hpp"
#include "service/sync_endpoints.hpp"
#include "service/worker.hpp"
#include "telemetry/log.hpp"

int main(int argc, char** argv) {
    using namespace orderflow;
    service::Config config;
    config.service = "inventory";
    CLI::App app{"orderflow inventory: reserves stock for orders"};
    service::AddCommonOptions(app, config, 8001);
    service::AddConsumerOptions(app, config);
    app.add_option("--inventory-seed", config.inventory_seed,
                   "JSON file {\"sku\": qty} loaded when the store is empty")
        ->envname("ORDERFLOW_INVENTORY_SEED");
    if (auto parsed = service::ParseArgs(app, argc, argv, config); !parsed.proceed) {
        return parsed.exit_code;
    }
    auto seed = store::DefaultSeed();
    if (!config.inventory_seed.empty()) {
        auto loaded = service::LoadSeed(config.inventory_seed);
        if (!loaded) {
            telemetry::Log(telemetry::LogLevel::kError, "bad inventory seed",
                           {{"error", loaded.error()}});
            return 2;
        }
        seed = std::move(*loaded);
    }

    service::Runtime runtime(config);
    const auto store = service::OpenServiceStore(config);
    if (auto seeded = store->Connect()->SeedStockIfEmpty(seed); !seeded) {
        telemetry::Log(telemetry::LogLevel::kError, "cannot seed the stock",
                       {{"error", seeded.error().message}});
        return 1;
    }
    service::Worker worker(
        runtime, *store, broker::kInventoryQueue,
        std::make_unique<service::InventoryMessageHandler>(handlers::EventContext{}));
    service::RegisterInventoryQueries(runtime.Router(), *store);
    // The sync chain's POST /reserve: same handler, store and fault injector as the consumer.
    service::StoreWriter writer(store->Connect(store::Durability::kFull));
    service::RegisterReserveEndpoint(runtime.Router(), runtime.Io(), writer, worker.Faults());
    worker.Start();
    runtime.OnShutdown([&writer] { writer.Stop(); });
    return runtime.Run();
}
