// Consuming-service wiring; see worker.hpp.
#include "service/worker.hpp"

#include <random>

#include "broker/topology.hpp"
#include "telemetry/log.hpp"

namespace orderflow::service {

RetryPolicy PolicyOf(const Config& config) {
    RetryPolicy policy;
    policy.max_attempts = config.max_attempts;
    policy.delays = config.RetryDelays();
    return policy;
}

std::string BrokerProblem(const broker::Publisher& publisher, const broker::Consumer& consumer) {
    if (auto topology = broker::TopologyProblem(); !topology.empty()) return topology;
    if (!consumer.Connected()) return "the consumer is not connected to the broker (see the log)";
    if (!publisher.Connected()) return "the publisher is not connected to the broker (see the log)";
    return {};
}

Worker::Worker(Runtime& runtime, store::Store& store, broker::QueueName queue,
               std::unique_ptr<MessageHandler> handler)
    : runtime_(runtime), handler_(std::move(handler)) {
    const auto& config = runtime.Settings();
    const auto policy = PolicyOf(config);
    const auto topology = broker::ContractTopology(policy.Levels());

    session_ = store.Connect(store::Durability::kFull);
    probe_ = store.Connect(store::Durability::kNormal);
    faults_ = std::make_unique<FaultInjector>(config.inject_delay_ms, config.inject_fail_rate,
                                              std::random_device{}());

    auto& metrics = runtime.Metrics();
    broker::Publisher::Options publisher_options;
    publisher_options.connection = config.Connection("publisher");
    publisher_options.app_id = config.service;
    publisher_options.topology = topology;
    publisher_options.on_connection_change = [](bool connected) {
        telemetry::Log(connected ? telemetry::LogLevel::kInfo : telemetry::LogLevel::kWarn,
                       connected ? "publisher connected" : "publisher disconnected");
    };
    publisher_ = std::make_unique<broker::Publisher>(std::move(publisher_options));
    // The relay only reads rows and deletes confirmed ones. A delete lost to a power cut
    // (synchronous=NORMAL: no fsync of its own; the next consumer commit, FULL, syncs the
    // WAL up to it) means the rows are published again, and dropped downstream as
    // duplicates by message_id (SPEC section 6): one fsync less per batch.
    relay_ = std::make_unique<OutboxRelay>(store.Connect(store::Durability::kNormal), *publisher_,
                                           metrics);

    auto* relay = relay_.get();
    MessagePipeline::Options pipeline_options;
    pipeline_options.service = config.service;
    pipeline_options.queue = queue;
    pipeline_options.retry = policy;
    pipeline_options.inbox_retention = std::chrono::hours(24 * config.inbox_retention_days);
    pipeline_options.breadcrumb = config.data_dir / (config.service + ".handling");
    pipeline_ = std::make_unique<MessagePipeline>(
        pipeline_options, *session_, *handler_, *publisher_, *faults_, metrics,
        OutboxHooks{
            .ready = [relay] { relay->Notify(); },
            .take_confirmed = [relay] { return relay->TakeConfirmed(); },
            .give_back = [relay](std::vector<int64_t> ids) { relay->GiveBack(std::move(ids)); },
        });

    broker::Consumer::Options consumer_options;
    consumer_options.connection = config.Connection("consumer");
    consumer_options.queue = queue;
    consumer_options.topology = topology;
    consumer_options.prefetch = static_cast<uint16_t>(config.prefetch);
    consumer_options.batch_max = static_cast<size_t>(config.batch_max);
    consumer_options.batch_wait = std::chrono::milliseconds(config.batch_wait_ms);
    consumer_options.consumer_tag = config.service;
    consumer_options.on_connection_change = [queue](bool connected) {
        telemetry::Log(connected ? telemetry::LogLevel::kInfo : telemetry::LogLevel::kWarn,
                       connected ? "consumer connected" : "consumer disconnected",
                       {{"queue", queue.value}});
    };
    consumer_ = std::make_unique<broker::Consumer>(
        std::move(consumer_options),
        [pipeline = pipeline_.get()](const std::vector<broker::Delivery>& batch,
                                     std::vector<broker::Disposition>& out) {
            pipeline->HandleBatch(batch, out);
        });

    metrics.OnCollect([this, &metrics] {
        // Counted when asked for, not by the relay on every round.
        if (const auto depth = OutboxDepth()) {
            metrics.GetGauge("orderflow_outbox_depth", "Events waiting in the outbox")
                .Set(static_cast<double>(*depth));
        }
        const auto stats = publisher_->Stats();
        // The publisher keeps its own totals; the counters follow them (never backwards).
        const std::pair<const char*, uint64_t> totals[] = {{"confirmed", stats.confirmed},
                                                           {"nacked", stats.nacked},
                                                           {"returned", stats.returned},
                                                           {"failed", stats.failed}};
        for (const auto& [outcome, total] : totals) {
            auto& counter = metrics.GetCounter("orderflow_messages_published_total",
                                               "Messages published, by broker outcome "
                                               "(confirmed, nacked, returned unroutable, failed)",
                                               {{"outcome", outcome}});
            const auto value = static_cast<double>(total);
            if (value > counter.Value()) counter.Inc(value - counter.Value());
        }
        metrics.GetGauge("orderflow_broker_connected", "1 while connected to the broker")
            .Set(publisher_->Connected() && consumer_->Connected() ? 1.0 : 0.0);
    });
}

Worker::~Worker() = default;

std::optional<int64_t> Worker::OutboxDepth() {
    std::lock_guard lock(probe_mutex_);
    if (auto depth = probe_->OutboxDepth()) return *depth;
    return std::nullopt;
}

void Worker::Start() {
    publisher_->Start();
    relay_->Start();
    consumer_->Start();
    runtime_.AddReadinessCheck(
        "broker", [this] { return publisher_->Connected() && consumer_->Connected(); },
        [this] { return BrokerProblem(*publisher_, *consumer_); });
    runtime_.AddReadinessCheck("store", [this] {
        // The consumer thread owns session_; probe through a connection of our own.
        std::lock_guard lock(probe_mutex_);
        return probe_->Ping();
    });
    const auto timeout = std::chrono::milliseconds(runtime_.Settings().shutdown_timeout_ms);
    runtime_.OnShutdown([this, timeout] {
        // Stop taking work, finish and ack the batch in hand (or give it back if the
        // database is away), then flush what it emitted.
        pipeline_->Abandon();
        consumer_->Stop();
        if (!relay_->Flush(timeout)) {
            telemetry::Log(telemetry::LogLevel::kWarn, "outbox not empty at shutdown",
                           {{"depth", OutboxDepth().value_or(-1)}});
        }
        // The publisher first: it answers whatever is still in flight (confirmed, or stopped),
        // so a relay round waiting for confirms ends and the relay can stop.
        publisher_->Stop(timeout);
        relay_->Stop();
    });
}

}  // namespace orderflow::service
