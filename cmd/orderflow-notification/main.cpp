// orderflow-notification: turns inventory outcomes into notifications, exactly once.
#include "broker/topology.hpp"
#include "handlers/context.hpp"
#include "service/consumers.hpp"
#include "service/queries.hpp"
#include "service/runtime.hpp"
#include "service/store_access.hpp"
#include "service/store_writer.hpp"
#include "service/sync_endpoints.hpp"
#include "service/worker.hpp"

int main(int argc, char** argv) {
    using namespace orderflow;
    service::Config config;
    config.service = "notification";
    CLI::App app{"orderflow notification: confirms or rejects orders to their users"};
    service::AddCommonOptions(app, config, 8002);
    service::AddConsumerOptions(app, config);
    if (auto parsed = service::ParseArgs(app, argc, argv, config); !parsed.proceed) {
        return parsed.exit_code;
    }
    service::Runtime runtime(config);
    const auto store = service::OpenServiceStore(config);
    service::Worker worker(
        runtime, *store, broker::kNotificationQueue,
        std::make_unique<service::NotificationMessageHandler>(handlers::EventContext{}));
    service::RegisterNotificationQueries(runtime.Router(), *store);
    // The sync chain's POST /send: same handler, store and fault injector as the consumer.
    service::StoreWriter writer(store->Connect(store::Durability::kFull));
    service::RegisterSendEndpoint(runtime.Router(), runtime.Io(), writer, worker.Faults());
    worker.Start();
    runtime.OnShutdown([&writer] { writer.Stop(); });
    return runtime.Run();
}
