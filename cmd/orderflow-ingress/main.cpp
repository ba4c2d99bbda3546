// orderflow-ingress: HTTP API, OrderPlaced publisher, order-status projection.
#include <fmt/format.h>

#include "broker/topology.hpp"
#include "service/consumers.hpp"
#include "service/ingress_api.hpp"
#include "service/order_auth.hpp"
#include "service/runtime.hpp"
#include "service/store_access.hpp"
#include "service/store_writer.hpp"
#include "service/sync_order_api.hpp"
#include "service/worker.hpp"

int main(int argc, char** argv) {
    using namespace orderflow;
    service::Config config;
    config.service = "ingress";
    CLI::App app{"orderflow ingress: accepts orders and publishes OrderPlaced"};
    service::AddCommonOptions(app, config, 8000);
    service::AddConsumerOptions(app, config);
    service::AddSyncChainOptions(app, config);
    std::string api_keys_file;
    service::AddApiKeysOption(app, api_keys_file);
    if (auto parsed = service::ParseArgs(app, argc, argv, config); !parsed.proceed) {
        return parsed.exit_code;
    }
    auto api_keys = service::LoadApiKeys(api_keys_file);
    if (!api_keys) {
        fmt::print(stderr, "orderflow-ingress: {}\n", api_keys.error());
        return 2;  // a usage error: the operator must fix the file
    }

    service::Runtime runtime(config);
    const auto store = service::OpenServiceStore(config);
    service::Worker worker(runtime, *store, broker::kOrderStatusQueue,
                           std::make_unique<service::OrderStatusMessageHandler>());
    service::StoreWriter writer(store->Connect(store::Durability::kNormal));
    service::IngressApi api(worker.Publisher(), writer, *store, runtime.Metrics());
    api.Register(runtime.Router());

    // The synchronous chain (POST /orders/sync), one caller and breaker per target.
    service::SyncOrderApi sync_api(runtime.Io().get_executor(), config, runtime.Metrics(), writer);
    sync_api.Register(runtime.Router());
    if (*api_keys) service::ProtectOrderRoutes(runtime.Router(), *api_keys);
    worker.Start();
    runtime.OnShutdown([&writer] { writer.Stop(); });
    return runtime.Run();
}
