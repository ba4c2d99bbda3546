// Stream analytics; see analytics.hpp.
#include "service/analytics.hpp"

#include <fmt/format.h>

#include <thread>
#include <unordered_set>

#include "broker/client.hpp"
#include "broker/topology.hpp"
#include "events/codec.hpp"
#include "service/store_access.hpp"
#include "service/worker.hpp"
#include "telemetry/log.hpp"

namespace orderflow::service {
namespace {

constexpr uint16_t kStreamPrefetch = 1000;

store::StatsFigures ToFigures(const handlers::OrderStats& stats) {
    return {stats.total_orders, stats.failed_orders, stats.orders_per_minute};
}

handlers::OrderStats FromFigures(store::StatsFigures figures) {
    handlers::OrderStats stats;
    stats.total_orders = figures.total_orders;
    stats.failed_orders = figures.failed_orders;
    stats.orders_per_minute = std::move(figures.orders_per_minute);
    return stats;
}

bool InRange(const events::Envelope& envelope, const StreamStart& start) {
    if (!start.since) return true;
    const auto at = events::ParseTime(envelope.occurred_at);
    return at && *at >= *start.since;
}

}  // namespace

std::optional<StreamStart> ParseStreamStart(std::string_view text) {
    StreamStart start;
    if (text == "first" || text == "last" || text == "next") {
        start.offset = std::string(text);
        return start;
    }
    auto at = events::ParseTime(text);
    if (!at) return std::nullopt;
    start.offset = "first";  // then skip what came before `since`
    start.since = *at;
    return start;
}

std::expected<handlers::OrderStats, std::string> ReportStats(
    const broker::ConnectionOptions& options, const StreamStart& start,
    std::chrono::milliseconds idle) {
    auto client = broker::Client::Connect(options);
    if (!client) return std::unexpected(client.error());
    const auto began = std::chrono::system_clock::now();
    if (auto ok = client->Consume(broker::kEventStream, kStreamPrefetch,
                                  {{"x-stream-offset", start.offset}});
        !ok) {
        return std::unexpected(ok.error());
    }
    handlers::OrderStats stats;
    std::unordered_set<std::string> seen;
    while (true) {
        auto next = client->Next(idle);
        if (!next) return std::unexpected(next.error());
        if (!next->has_value()) break;  // idle: the end of the stream as it was
        const auto& delivery = **next;
        (void)client->Ack(delivery.delivery_tag);
        // Events published after the report began are beyond "its current end".
        if (delivery.properties.timestamp &&
            *delivery.properties.timestamp >
                std::chrono::duration_cast<std::chrono::seconds>(began.time_since_epoch())
                    .count()) {
            break;
        }
        auto envelope = events::DecodeEnvelope(delivery.body);
        if (!envelope || !InRange(*envelope, start)) continue;
        if (!seen.insert(envelope->event_id).second) continue;
        handlers::CountEvent(*envelope, stats);
    }
    return stats;
}

AnalyticsService::AnalyticsService(Runtime& runtime, StreamStart start)
    : runtime_(runtime), start_(std::move(start)) {
    const auto& config = runtime.Settings();
    store_ = OpenServiceStore(config);
    session_ = store_->Connect(store::Durability::kFull);
    probe_ = store_->Connect(store::Durability::kNormal);

    broker::Consumer::Options options;
    options.connection = config.Connection("stream");
    options.queue = broker::kEventStream;
    options.topology = broker::ContractTopology(PolicyOf(config).Levels());
    options.prefetch = kStreamPrefetch;
    options.batch_max = 500;
    options.batch_wait = std::chrono::milliseconds(20);
    // Resume after the last offset stored (read again at every reconnect, on the consumer
    // thread that owns session_); without one, where --from says. While the store is away
    // the offset is unknown: wait for it rather than guess (a guess of "next" loses events).
    options.subscribe_arguments = [this] {
        broker::FieldTable args;
        std::optional<int64_t> offset;
        UntilStored("reading the stream offset", [&]() -> store::StoreResult<void> {
            auto stored = session_->NextStreamOffset();
            if (!stored) return std::unexpected(stored.error());
            offset = *stored;
            return {};
        });
        if (offset) {
            args["x-stream-offset"] = *offset;
        } else {
            args["x-stream-offset"] = start_.offset;
        }
        return args;
    };
    const auto stored = session_->NextStreamOffset();
    telemetry::Log(telemetry::LogLevel::kInfo, "following the event stream",
                   {{"from", stored && *stored ? std::to_string(**stored) : start_.offset},
                    {"store", std::string(store_->Backend())}});
    consumer_ = std::make_unique<broker::Consumer>(
        std::move(options),
        [this](const std::vector<broker::Delivery>& batch, std::vector<broker::Disposition>& out) {
            HandleBatch(batch, out);
        });
}

AnalyticsService::~AnalyticsService() = default;

bool AnalyticsService::UntilStored(std::string_view what,
                                   const std::function<store::StoreResult<void>()>& step) {
    auto pause = std::chrono::milliseconds(100);
    bool waited = false;
    while (true) {
        auto result = step();
        if (result) break;
        if (!waited) {
            telemetry::Log(telemetry::LogLevel::kWarn, "store failed; holding the stream",
                           {{"while", std::string(what)},
                            {"kind", std::string(store::KindName(result.error().kind))},
                            {"error", result.error().message}});
            waited = true;
        }
        if (stopping_) return false;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(1000));
    }
    if (waited) telemetry::Log(telemetry::LogLevel::kInfo, "store back; stream resumed");
    return true;
}

void AnalyticsService::HandleBatch(const std::vector<broker::Delivery>& batch,
                                   std::vector<broker::Disposition>& out) {
    out.assign(batch.size(), broker::Disposition::kAck);  // a stream keeps them anyway
    std::optional<int64_t> last_offset;
    std::vector<std::string> ids;
    std::vector<std::pair<const broker::Delivery*, events::Envelope>> events;
    for (const auto& delivery : batch) {
        if (auto offset = delivery.properties.IntHeader("x-stream-offset")) last_offset = offset;
        auto envelope = events::DecodeEnvelope(delivery.body);
        if (!envelope) {
            telemetry::Log(telemetry::LogLevel::kWarn, "skipping undecodable stream event",
                           {{"message_id", delivery.properties.message_id},
                            {"error", envelope.error().message}});
            continue;
        }
        if (!InRange(*envelope, start_)) continue;
        ids.push_back(envelope->event_id);
        events.emplace_back(&delivery, std::move(*envelope));
    }
    // New event ids only (the inbox), their figures and the offset: one transaction. A batch
    // the store does not take is held (nothing counted, the offset not moved) until it does.
    std::vector<size_t> counted;
    const bool stored = UntilStored("counting a batch", [&] {
        return session_->Transact([&](store::UnitOfWork& unit) {
            counted.clear();
            handlers::OrderStats delta;
            const auto fresh =
                unit.Claim(ids, events::ToUnixMillis(std::chrono::system_clock::now()));
            for (size_t i = 0; i < events.size(); ++i) {
                if (!fresh[i]) continue;
                handlers::CountEvent(events[i].second, delta);
                counted.push_back(i);
            }
            unit.StatsRows().Add(ToFigures(delta));
            if (last_offset) unit.StatsRows().SetNextOffset(*last_offset + 1);
        });
    });
    if (!stored) return;  // stopping: the stored offset did not move, a restart reads it again
    if (observer_) {
        for (const auto i : counted) observer_(*events[i].first, events[i].second);
    }
    runtime_.Metrics()
        .GetCounter("orderflow_messages_consumed_total", "Messages consumed, by outcome",
                    {{"queue", broker::kEventStream.value}, {"outcome", "processed"}})
        .Inc(static_cast<double>(batch.size()));
}

void AnalyticsService::Start() {
    runtime_.Router().Add("GET", "/stats", [this](http::Request&&, http::Respond respond) {
        auto figures = ReaderSession(*store_).LoadStats();
        if (!figures) return respond(StoreUnavailable(figures.error()));
        respond(http::Json(200, FromFigures(std::move(*figures)).ToJson()));
    });
    consumer_->Start();
    runtime_.AddReadinessCheck(
        "broker", [this] { return consumer_->Connected(); },
        [] {
            auto topology = broker::TopologyProblem();
            return topology.empty() ? std::string("not connected to the broker (see the log)")
                                    : topology;
        });
    runtime_.AddReadinessCheck("store", [this] {
        std::lock_guard lock(probe_mutex_);
        return probe_->Ping();
    });
    runtime_.OnShutdown([this] {
        stopping_ = true;  // a batch held by an outage is given up (counted after a restart)
        consumer_->Stop();
    });
}

}  // namespace orderflow::service
