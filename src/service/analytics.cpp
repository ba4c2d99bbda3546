// Stream analytics; see analytics.hpp.
#include "service/analytics.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>

#include <unordered_set>

#include "broker/client.hpp"
#include "broker/topology.hpp"
#include "events/codec.hpp"
#include "service/worker.hpp"
#include "store/sqlite/database.hpp"
#include "store/sqlite/inbox.hpp"
#include "telemetry/log.hpp"

namespace orderflow::service {
namespace {

constexpr uint16_t kStreamPrefetch = 1000;

void CreateSchema(SQLite::Database& db) {
    store::CreateInboxSchema(db);
    db.exec(
        "CREATE TABLE IF NOT EXISTS stats_totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS stats_minutes (minute TEXT PRIMARY KEY, orders INTEGER NOT "
        "NULL);"
        "CREATE TABLE IF NOT EXISTS stream_offset (id INTEGER PRIMARY KEY CHECK (id = 1),"
        " next_offset INTEGER NOT NULL);");
}

std::optional<int64_t> StoredOffset(SQLite::Database& db) {
    SQLite::Statement query(db, "SELECT next_offset FROM stream_offset WHERE id = 1");
    if (!query.executeStep()) return std::nullopt;
    return query.getColumn(0).getInt64();
}

handlers::OrderStats LoadStats(SQLite::Database& db) {
    handlers::OrderStats stats;
    SQLite::Statement totals(db, "SELECT name, value FROM stats_totals");
    while (totals.executeStep()) {
        const std::string name = totals.getColumn(0).getString();
        if (name == "total_orders") stats.total_orders = totals.getColumn(1).getInt64();
        if (name == "failed_orders") stats.failed_orders = totals.getColumn(1).getInt64();
    }
    SQLite::Statement minutes(db, "SELECT minute, orders FROM stats_minutes");
    while (minutes.executeStep()) {
        stats.orders_per_minute[minutes.getColumn(0).getString()] = minutes.getColumn(1).getInt64();
    }
    return stats;
}

// Applies a delta of figures to the stored ones (inside the caller's transaction).
void AddStats(SQLite::Database& db, const handlers::OrderStats& delta) {
    SQLite::Statement total(db,
                            "INSERT INTO stats_totals(name, value) VALUES (?, ?) "
                            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value");
    for (const auto& [name, value] :
         {std::pair<const char*, int64_t>{"total_orders", delta.total_orders},
          {"failed_orders", delta.failed_orders}}) {
        total.bind(1, name);
        total.bind(2, value);
        total.exec();
        total.reset();
    }
    SQLite::Statement minute(db,
                             "INSERT INTO stats_minutes(minute, orders) VALUES (?, ?) "
                             "ON CONFLICT(minute) DO UPDATE SET orders = orders + excluded.orders");
    for (const auto& [name, orders] : delta.orders_per_minute) {
        minute.bind(1, name);
        minute.bind(2, orders);
        minute.exec();
        minute.reset();
    }
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
    db_ = store::OpenDatabase(config.DbPath(), store::Durability::kFull);
    CreateSchema(*db_);

    broker::Consumer::Options options;
    options.connection = config.Connection("stream");
    options.queue = broker::kEventStream;
    options.topology = broker::ContractTopology(PolicyOf(config).Levels());
    options.prefetch = kStreamPrefetch;
    options.batch_max = 500;
    options.batch_wait = std::chrono::milliseconds(20);
    // Resume after the last offset stored (read again at every reconnect, on the consumer
    // thread that owns db_); without one, where --from says.
    const auto stored = StoredOffset(*db_);
    options.subscribe_arguments = [this] {
        broker::FieldTable args;
        if (auto offset = StoredOffset(*db_)) {
            args["x-stream-offset"] = *offset;
        } else {
            args["x-stream-offset"] = start_.offset;
        }
        return args;
    };
    telemetry::Log(telemetry::LogLevel::kInfo, "following the event stream",
                   {{"from", stored ? std::to_string(*stored) : start_.offset}});
    consumer_ = std::make_unique<broker::Consumer>(
        std::move(options),
        [this](const std::vector<broker::Delivery>& batch, std::vector<broker::Disposition>& out) {
            HandleBatch(batch, out);
        });
}

AnalyticsService::~AnalyticsService() = default;

void AnalyticsService::HandleBatch(const std::vector<broker::Delivery>& batch,
                                   std::vector<broker::Disposition>& out) {
    out.assign(batch.size(), broker::Disposition::kAck);  // a stream keeps them anyway
    handlers::OrderStats delta;
    std::optional<int64_t> last_offset;
    std::vector<std::pair<const broker::Delivery*, events::Envelope>> observed;
    SQLite::Transaction txn(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    for (const auto& delivery : batch) {
        if (auto offset = delivery.properties.IntHeader("x-stream-offset")) last_offset = offset;
        auto envelope = events::DecodeEnvelope(delivery.body);
        if (!envelope) {
            telemetry::Log(telemetry::LogLevel::kWarn, "skipping undecodable stream event",
                           {{"message_id", delivery.properties.message_id},
                            {"error", envelope.error().message}});
            continue;
        }
        if (!InRange(*envelope, start_) || store::InboxContains(*db_, envelope->event_id)) continue;
        store::InboxRecord(*db_, envelope->event_id,
                           events::ToUnixMillis(std::chrono::system_clock::now()));
        handlers::CountEvent(*envelope, delta);
        if (observer_) observed.emplace_back(&delivery, std::move(*envelope));
    }
    AddStats(*db_, delta);
    if (last_offset) {
        SQLite::Statement save(*db_,
                               "INSERT INTO stream_offset(id, next_offset) VALUES (1, ?) "
                               "ON CONFLICT(id) DO UPDATE SET next_offset = excluded.next_offset");
        save.bind(1, *last_offset + 1);
        save.exec();
    }
    txn.commit();
    for (const auto& [delivery, envelope] : observed) observer_(*delivery, envelope);
    runtime_.Metrics()
        .GetCounter("orderflow_messages_consumed_total", "Messages consumed, by outcome",
                    {{"queue", broker::kEventStream.value}, {"outcome", "processed"}})
        .Inc(static_cast<double>(batch.size()));
}

void AnalyticsService::Start() {
    const auto path = runtime_.Settings().DbPath();
    runtime_.Router().Add("GET", "/stats", [path](http::Request&&, http::Respond respond) {
        thread_local std::map<std::string, std::unique_ptr<SQLite::Database>> readers;
        auto& db = readers[path.string()];
        if (!db) db = store::OpenDatabase(path, store::Durability::kNormal);
        respond(http::Json(200, LoadStats(*db).ToJson()));
    });
    consumer_->Start();
    runtime_.AddReadinessCheck(
        "broker", [this] { return consumer_->Connected(); },
        [] {
            auto topology = broker::TopologyProblem();
            return topology.empty() ? std::string("not connected to the broker (see the log)")
                                    : topology;
        });
    runtime_.AddReadinessCheck("store", [path] { return store::Probe(path); });
    runtime_.OnShutdown([this] { consumer_->Stop(); });
}

}  // namespace orderflow::service
