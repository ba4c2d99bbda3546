// PostgreSQL implementation of Store, Session and UnitOfWork; see postgres_store.hpp.
#include "store/postgres/postgres_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>
#include <thread>
#include <type_traits>

#include "store/postgres/connection.hpp"

namespace orderflow::store::postgres {
namespace {

constexpr std::string_view kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS processed_messages (
  message_id text PRIMARY KEY,
  processed_at bigint NOT NULL);
CREATE INDEX IF NOT EXISTS processed_messages_by_time ON processed_messages (processed_at);
CREATE TABLE IF NOT EXISTS outbox (
  id bigserial PRIMARY KEY,
  exchange text NOT NULL, routing_key text NOT NULL, message_id text NOT NULL,
  correlation_id text NOT NULL, type text NOT NULL, app_id text NOT NULL,
  traceparent text NOT NULL, timestamp_ms bigint NOT NULL, body text NOT NULL,
  claimed_until bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS stock (
  sku text PRIMARY KEY,
  quantity bigint NOT NULL CHECK (quantity >= 0));
CREATE TABLE IF NOT EXISTS notifications (
  id bigserial PRIMARY KEY,
  order_id text NOT NULL, outcome text NOT NULL, message text NOT NULL, at text NOT NULL);
CREATE INDEX IF NOT EXISTS notifications_by_order ON notifications (order_id, id);
CREATE TABLE IF NOT EXISTS order_stages (
  order_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('accepted', 'reserved', 'rejected', 'notified')),
  stage_rank int NOT NULL, at text NOT NULL, outcome text,
  PRIMARY KEY (order_id, status));
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key text PRIMARY KEY,
  request_hash text NOT NULL, status int NOT NULL, response_body text NOT NULL,
  created_at bigint NOT NULL);
CREATE INDEX IF NOT EXISTS idempotency_keys_by_time ON idempotency_keys (created_at);
ALTER TABLE idempotency_keys ADD COLUMN IF NOT EXISTS holder int NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS stats_totals (name text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE IF NOT EXISTS stats_minutes (minute text PRIMARY KEY, orders bigint NOT NULL);
CREATE TABLE IF NOT EXISTS stream_offset (
  id int PRIMARY KEY CHECK (id = 1),
  next_offset bigint NOT NULL);
)sql";

// The server's clock in milliseconds: leases compare times of several replicas.
constexpr std::string_view kNowMs = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

template <class F>
auto Guard(Connection& conn, F&& body) -> StoreResult<decltype(body())> {
    try {
        if constexpr (std::is_void_v<decltype(body())>) {
            body();
            return {};
        } else {
            return body();
        }
    } catch (const StoreException& e) {
        conn.RollbackQuietly();
        return std::unexpected(e.Error());
    } catch (const std::exception& e) {
        conn.RollbackQuietly();
        return std::unexpected(StoreError{StoreError::Kind::kBug, e.what()});
    }
}

std::string Num(int64_t value) { return std::to_string(value); }

std::optional<IdempotencyRecord> KeyFrom(const Rows& rows) {
    if (rows.Count() == 0) return std::nullopt;
    return IdempotencyRecord{rows.Text(0, 0), rows.Text(0, 1), static_cast<int>(rows.Int64(0, 2)),
                             rows.Text(0, 3)};
}

// One array parameter per field of `rows` (a member pointer or a function of a row), for
// the unnest($1::text[], $2::bigint[], ...) of a set-based statement.
template <class Row, class Field>
std::string Column(const std::vector<Row>& rows, Field field) {
    using Value = std::decay_t<std::invoke_result_t<Field, const Row&>>;
    std::vector<Value> values;
    values.reserve(rows.size());
    for (const auto& row : rows) values.push_back(std::invoke(field, row));
    if constexpr (std::is_integral_v<Value>) {
        return IntArray(values);
    } else {
        return TextArray(values);
    }
}
template <class Row, class... Fields>
std::vector<Param> Columns(const std::vector<Row>& rows, Fields... fields) {
    return {Column(rows, fields)...};
}

// Effects are kept here until commit, so that a batch writes each table once.
class PgUnitOfWork final : public UnitOfWork, Stock, Notifications, OrderStages, StreamStats {
  public:
    explicit PgUnitOfWork(Connection& conn) : conn_(conn) {}

    void Reset() {
        stock_.clear();
        taken_.clear();
        outbox_.clear();
        deleted_outbox_.clear();
        notifications_.clear();
        stages_.clear();
        keys_.clear();
        unclaimed_.clear();
        stats_ = {};
        next_offset_.reset();
        mark_.reset();
    }

    std::vector<bool> Claim(std::span<const std::string> ids, Millis now) override {
        std::vector<bool> fresh(ids.size(), false);
        if (ids.empty()) return fresh;
        auto rows = conn_.Exec(
            "INSERT INTO processed_messages (message_id, processed_at)"
            " SELECT unnest($1::text[]), $2::bigint ON CONFLICT (message_id) DO NOTHING"
            " RETURNING message_id",
            {TextArray(std::vector<std::string>(ids.begin(), ids.end())), Num(now)});
        std::multiset<std::string> claimed;
        for (int r = 0; r < rows.Count(); ++r) claimed.insert(rows.Text(r, 0));
        for (size_t i = 0; i < ids.size(); ++i) {
            if (auto it = claimed.find(ids[i]); it != claimed.end()) {
                fresh[i] = true;
                claimed.erase(it);
            }
        }
        return fresh;
    }

    void Unclaim(std::span<const std::string> ids) override {
        unclaimed_.insert(unclaimed_.end(), ids.begin(), ids.end());
    }

    void LockStock(std::span<const std::string> skus) override {
        std::set<std::string> wanted;
        for (const auto& sku : skus) {
            if (!stock_.contains(sku)) wanted.insert(sku);
        }
        if (wanted.empty()) return;
        // ORDER BY before FOR UPDATE: rows are locked in sku order, so two batches that
        // want the same rows queue up instead of deadlocking.
        auto rows = conn_.Exec(
            "SELECT sku, quantity FROM stock WHERE sku = ANY($1::text[]) ORDER BY sku FOR UPDATE",
            {TextArray(std::vector<std::string>(wanted.begin(), wanted.end()))});
        for (const auto& sku : wanted) stock_[sku] = std::nullopt;
        for (int r = 0; r < rows.Count(); ++r) stock_[rows.Text(r, 0)] = rows.Int64(r, 1);
    }

    void Savepoint() override {
        mark_ = Mark{stock_,         taken_,       outbox_.size(),    notifications_.size(),
                     stages_.size(), keys_.size(), unclaimed_.size(), stats_,
                     next_offset_};
    }
    void ReleaseSavepoint() override { mark_.reset(); }
    void RollbackSavepoint() override {
        if (!mark_) return;
        stock_ = std::move(mark_->stock);
        taken_ = std::move(mark_->taken);
        outbox_.resize(mark_->outbox);
        notifications_.resize(mark_->notifications);
        stages_.resize(mark_->stages);
        keys_.resize(mark_->keys);
        unclaimed_.resize(mark_->unclaimed);
        stats_ = std::move(mark_->stats);
        next_offset_ = mark_->next_offset;
        mark_.reset();
    }

    Stock& StockRows() override { return *this; }
    Notifications& NotificationRows() override { return *this; }
    OrderStages& OrderRows() override { return *this; }
    StreamStats& StatsRows() override { return *this; }

    void Add(const StatsFigures& delta) override {
        stats_.total_orders += delta.total_orders;
        stats_.failed_orders += delta.failed_orders;
        for (const auto& [minute, orders] : delta.orders_per_minute) {
            stats_.orders_per_minute[minute] += orders;
        }
    }
    void SetNextOffset(int64_t offset) override { next_offset_ = offset; }

    std::optional<int64_t> Available(std::string_view sku) override {
        const std::string key(sku);
        if (!stock_.contains(key)) LockStock(std::span<const std::string>(&key, 1));
        return stock_[key];
    }

    void Take(std::string_view sku, int64_t quantity) override {
        auto available = Available(sku);
        if (!available || quantity < 0 || *available < quantity) {
            throw StoreException({StoreError::Kind::kBug,
                                  fmt::format("stock of '{}' cannot give {}", sku, quantity)});
        }
        stock_[std::string(sku)] = *available - quantity;
        taken_[std::string(sku)] += quantity;
    }

    void Add(const NotificationRecord& record) override { notifications_.push_back(record); }

    void RecordStage(std::string_view order_id, std::string_view status, std::string_view at,
                     std::optional<std::string_view> outcome) override {
        const int rank = StageRank(status);
        if (rank < 0) throw std::invalid_argument(fmt::format("unknown stage '{}'", status));
        stages_.push_back(Stage{std::string(order_id), std::string(status), rank, std::string(at),
                                outcome ? std::optional<std::string>(*outcome) : std::nullopt});
    }

    void AddOutbox(const OutboxEntry& entry) override { outbox_.push_back(entry); }
    // Not undone by RollbackSavepoint: called outside the items' savepoints.
    void DeleteOutbox(std::span<const int64_t> ids) override {
        deleted_outbox_.insert(deleted_outbox_.end(), ids.begin(), ids.end());
    }

    void SaveKey(const IdempotencyRecord& record, Millis now) override {
        keys_.push_back({record, now});
    }

    std::optional<IdempotencyRecord> FindKey(std::string_view key) override {
        return KeyFrom(conn_.Exec(
            "SELECT key, request_hash, status, response_body FROM idempotency_keys WHERE key = $1",
            {std::string(key)}));
    }

    void SetStock(std::string_view sku, int64_t quantity) override {
        conn_.Exec(
            "INSERT INTO stock (sku, quantity) VALUES ($1, $2)"
            " ON CONFLICT (sku) DO UPDATE SET quantity = excluded.quantity",
            {std::string(sku), Num(quantity)});
        stock_.erase(std::string(sku));
    }

    // Writes what was buffered: one statement per table that has rows.
    void Flush() {
        if (!unclaimed_.empty()) {
            conn_.Exec("DELETE FROM processed_messages WHERE message_id = ANY($1::text[])",
                       {TextArray(unclaimed_)});
        }
        FlushStock();
        if (!deleted_outbox_.empty()) {
            conn_.Exec("DELETE FROM outbox WHERE id = ANY($1::bigint[])",
                       {IntArray(deleted_outbox_)});
        }
        FlushOutbox();
        FlushNotifications();
        FlushStages();
        FlushStats();
        for (const auto& [record, now] : keys_) WriteKey(record, now);
    }

  private:
    struct Stage {
        std::string order_id;
        std::string status;
        int64_t rank;
        std::string at;
        std::optional<std::string> outcome;
    };
    struct Mark {
        std::map<std::string, std::optional<int64_t>> stock;
        std::map<std::string, int64_t> taken;
        size_t outbox, notifications, stages, keys, unclaimed;
        StatsFigures stats;
        std::optional<int64_t> next_offset;
    };

    void FlushStock() {
        std::vector<std::string> skus;
        std::vector<int64_t> quantities;
        for (const auto& [sku, quantity] : taken_) {
            if (quantity == 0) continue;
            skus.push_back(sku);
            quantities.push_back(quantity);
        }
        if (skus.empty()) return;
        // The rows are locked since LockStock; the CHECK constraint is the backstop.
        conn_.Exec(
            "UPDATE stock s SET quantity = s.quantity - d.quantity"
            " FROM unnest($1::text[], $2::bigint[]) AS d(sku, quantity) WHERE s.sku = d.sku",
            {TextArray(skus), IntArray(quantities)});
    }

    void FlushOutbox() {
        if (outbox_.empty()) return;
        // WITH ORDINALITY ... ORDER BY: ids follow the order the events were emitted.
        conn_.Exec(
            "INSERT INTO outbox (exchange, routing_key, message_id, correlation_id, type,"
            "  app_id, traceparent, timestamp_ms, body)"
            " SELECT e, r, m, c, t, a, p, s, b FROM unnest($1::text[], $2::text[], $3::text[],"
            "  $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[])"
            "  WITH ORDINALITY AS x(e, r, m, c, t, a, p, s, b, n) ORDER BY n",
            Columns(outbox_, &OutboxEntry::exchange, &OutboxEntry::routing_key,
                    &OutboxEntry::message_id, &OutboxEntry::correlation_id, &OutboxEntry::type,
                    &OutboxEntry::app_id, &OutboxEntry::traceparent, &OutboxEntry::timestamp,
                    &OutboxEntry::body));
    }

    void FlushNotifications() {
        if (notifications_.empty()) return;
        conn_.Exec(
            "INSERT INTO notifications (order_id, outcome, message, at)"
            " SELECT o, c, m, a FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])"
            "  WITH ORDINALITY AS x(o, c, m, a, n) ORDER BY n",
            Columns(notifications_, &NotificationRecord::order_id, &NotificationRecord::outcome,
                    &NotificationRecord::message, &NotificationRecord::at));
    }

    void FlushStages() {
        if (stages_.empty()) return;
        // One row per (order, stage) in the statement (ON CONFLICT DO UPDATE may not touch a
        // row twice): the first time is kept, an outcome fills in a missing one.
        std::map<std::pair<std::string, std::string>, Stage> unique;
        for (auto& stage : stages_) {
            auto [it, inserted] = unique.try_emplace({stage.order_id, stage.status}, stage);
            if (!inserted && !it->second.outcome) it->second.outcome = stage.outcome;
        }
        std::vector<Stage> rows;
        rows.reserve(unique.size());
        for (auto& [key, stage] : unique) rows.push_back(std::move(stage));
        conn_.Exec(
            "INSERT INTO order_stages (order_id, status, stage_rank, at, outcome)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[])"
            " ON CONFLICT (order_id, status)"
            " DO UPDATE SET outcome = coalesce(order_stages.outcome, excluded.outcome)",
            Columns(rows, &Stage::order_id, &Stage::status, &Stage::rank, &Stage::at,
                    &Stage::outcome));
    }

    void FlushStats() {
        if (stats_.total_orders != 0 || stats_.failed_orders != 0) {
            conn_.Exec(
                "INSERT INTO stats_totals (name, value)"
                " VALUES ('total_orders', $1::bigint), ('failed_orders', $2::bigint)"
                " ON CONFLICT (name) DO UPDATE SET value = stats_totals.value + excluded.value",
                {Num(stats_.total_orders), Num(stats_.failed_orders)});
        }
        if (!stats_.orders_per_minute.empty()) {
            const std::vector<std::pair<std::string, int64_t>> minutes(
                stats_.orders_per_minute.begin(), stats_.orders_per_minute.end());
            conn_.Exec(
                "INSERT INTO stats_minutes (minute, orders)"
                " SELECT * FROM unnest($1::text[], $2::bigint[])"
                " ON CONFLICT (minute) DO UPDATE SET orders = stats_minutes.orders + "
                "excluded.orders",
                Columns(minutes, &std::pair<std::string, int64_t>::first,
                        &std::pair<std::string, int64_t>::second));
        }
        if (next_offset_) {
            conn_.Exec(
                "INSERT INTO stream_offset (id, next_offset) VALUES (1, $1)"
                " ON CONFLICT (id) DO UPDATE SET next_offset = excluded.next_offset",
                {Num(*next_offset_)});
        }
    }

    void WriteKey(const IdempotencyRecord& record, Millis now) {
        conn_.Exec(
            "INSERT INTO idempotency_keys (key, request_hash, status, response_body, created_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO UPDATE SET"
            "  request_hash = excluded.request_hash, status = excluded.status,"
            "  response_body = excluded.response_body, created_at = excluded.created_at"
            " WHERE idempotency_keys.status <= 0",
            {record.key, record.request_hash, Num(record.status), record.response_body, Num(now)});
    }

    Connection& conn_;
    std::map<std::string, std::optional<int64_t>> stock_;  // locked rows: what is left
    std::map<std::string, int64_t> taken_;                 // per sku, to write at commit
    std::vector<OutboxEntry> outbox_;
    std::vector<int64_t> deleted_outbox_;
    std::vector<NotificationRecord> notifications_;
    std::vector<Stage> stages_;
    std::vector<std::pair<IdempotencyRecord, Millis>> keys_;
    std::vector<std::string> unclaimed_;
    StatsFigures stats_;
    std::optional<int64_t> next_offset_;
    std::optional<Mark> mark_;
};

class PgSession final : public Session {
  public:
    PgSession(const std::string& url, const std::string& schema)
        : conn_(url, schema), unit_(conn_) {}

    StoreResult<void> Transact(const std::function<void(UnitOfWork&)>& work) override {
        TransactScope scope(in_transact_);
        if (scope.Nested()) return std::unexpected(TransactScope::NestedError());
        constexpr int kAttempts = 3;
        for (int attempt = 1;; ++attempt) {
            unit_.Reset();
            auto result = Guard(conn_, [&] {
                conn_.ExecScript("BEGIN ISOLATION LEVEL READ COMMITTED");
                work(unit_);
                unit_.Flush();
                conn_.ExecScript("COMMIT");
            });
            unit_.Reset();
            if (result || result.error().kind != StoreError::Kind::kTransient ||
                attempt >= kAttempts) {
                return result;
            }
        }
    }

    StoreResult<std::map<std::string, int64_t>> StockLevels() override {
        return Guard(conn_, [&] {
            auto rows = conn_.Exec("SELECT sku, quantity FROM stock");
            std::map<std::string, int64_t> all;
            for (int r = 0; r < rows.Count(); ++r) all.emplace(rows.Text(r, 0), rows.Int64(r, 1));
            return all;
        });
    }

    StoreResult<void> SeedStockIfEmpty(const std::map<std::string, int64_t>& seed) override {
        return Guard(conn_, [&] {
            // Replicas starting together: the advisory lock makes "empty?" and the seed one
            // step, so the stock is seeded once.
            conn_.ExecScript("BEGIN");
            conn_.Exec("SELECT pg_advisory_xact_lock(hashtext('orderflow.seed'))");
            if (conn_.Exec("SELECT 1 FROM stock LIMIT 1").Count() == 0 && !seed.empty()) {
                const std::vector<std::pair<std::string, int64_t>> rows(seed.begin(), seed.end());
                conn_.Exec(
                    "INSERT INTO stock (sku, quantity) SELECT * FROM unnest($1::text[],"
                    " $2::bigint[])",
                    Columns(rows, &std::pair<std::string, int64_t>::first,
                            &std::pair<std::string, int64_t>::second));
            }
            conn_.ExecScript("COMMIT");
        });
    }

    StoreResult<std::vector<NotificationRecord>> NotificationsFor(
        std::string_view order_id) override {
        return Guard(conn_, [&] {
            auto rows = conn_.Exec(
                "SELECT order_id, outcome, message, at FROM notifications WHERE order_id = $1"
                " ORDER BY id",
                {std::string(order_id)});
            std::vector<NotificationRecord> records;
            for (int r = 0; r < rows.Count(); ++r) {
                records.push_back(
                    {rows.Text(r, 0), rows.Text(r, 1), rows.Text(r, 2), rows.Text(r, 3)});
            }
            return records;
        });
    }

    StoreResult<int64_t> NotificationCount() override {
        return Guard(conn_,
                     [&] { return conn_.Exec("SELECT count(*) FROM notifications").Int64(0, 0); });
    }

    StoreResult<std::optional<OrderView>> FindOrder(std::string_view order_id) override {
        return Guard(conn_, [&] {
            auto rows = conn_.Exec(
                "SELECT status, at, outcome FROM order_stages WHERE order_id = $1"
                " ORDER BY stage_rank, at, status",
                {std::string(order_id)});
            std::optional<OrderView> view;
            for (int r = 0; r < rows.Count(); ++r) {
                if (!view) view.emplace().order_id = std::string(order_id);
                view->history.push_back(OrderStage{rows.Text(r, 0), rows.Text(r, 1)});
                if (!rows.IsNull(r, 2)) view->outcome = rows.Text(r, 2);
            }
            if (view) view->status = view->history.back().status;
            return view;
        });
    }

    StoreResult<int64_t> CountOrdersWithStatus(std::string_view status) override {
        return Guard(conn_, [&] {
            return conn_
                .Exec(
                    "SELECT count(*) FROM order_stages s WHERE s.status = $1 AND NOT EXISTS ("
                    "  SELECT 1 FROM order_stages t WHERE t.order_id = s.order_id"
                    "  AND (t.stage_rank, t.at, t.status) > (s.stage_rank, s.at, s.status))",
                    {std::string(status)})
                .Int64(0, 0);
        });
    }

    StoreResult<std::optional<IdempotencyRecord>> FindKey(std::string_view key) override {
        return Guard(conn_, [&] { return unit_.FindKey(key); });
    }

    StoreResult<KeyClaim> ClaimKey(std::string_view key, std::string_view request_hash,
                                   std::string_view note, Millis now,
                                   std::chrono::milliseconds stale) override {
        return Guard(conn_, [&] {
            const std::string k(key);
            conn_.ExecScript("BEGIN");
            // The insert waits for a concurrent claim of the same key to commit, then does
            // nothing: of two replicas, one claims.
            // `holder`: the backend of this connection, which the server ends when the
            // replica dies (SIGKILL included), so that its mark is known dead at once.
            auto inserted = conn_.Exec(
                "INSERT INTO idempotency_keys (key, request_hash, status, response_body,"
                " created_at, holder) VALUES ($1, $2, -1, $4, $3, pg_backend_pid())"
                " ON CONFLICT (key) DO NOTHING RETURNING key",
                {k, std::string(request_hash), Num(now), std::string(note)});
            KeyClaim claim;
            if (inserted.Count() == 1) {
                claim.claimed = true;
            } else {
                auto rows = conn_.Exec(
                    "SELECT key, request_hash, status, response_body, created_at,"
                    "  holder = 0 OR EXISTS (SELECT 1 FROM pg_stat_activity a"
                    "   WHERE a.pid = idempotency_keys.holder)"
                    " FROM idempotency_keys WHERE key = $1 FOR UPDATE OF idempotency_keys",
                    {k});
                claim.prior = KeyFrom(rows);
                if (claim.prior) {
                    const bool holder_alive = rows.Text(0, 5) == "t";
                    const bool stale_mark =
                        claim.prior->status == IdempotencyRecord::kInFlight &&
                        (!holder_alive || rows.Int64(0, 4) < now - stale.count());
                    if ((claim.prior->status == IdempotencyRecord::kUnconfirmed || stale_mark) &&
                        claim.prior->request_hash == request_hash) {
                        conn_.Exec(
                            "UPDATE idempotency_keys SET status = -1, created_at = $2,"
                            " holder = pg_backend_pid(), response_body = CASE"
                            "  WHEN response_body <> '' THEN response_body ELSE $3 END"
                            " WHERE key = $1",
                            {k, Num(now), std::string(note)});
                        claim.claimed = true;
                    }
                }
            }
            conn_.ExecScript("COMMIT");
            return claim;
        });
    }

    StoreResult<void> ReleaseKey(std::string_view key) override {
        return Guard(conn_, [&] {
            conn_.Exec(
                "UPDATE idempotency_keys SET status = 0"
                " WHERE key = $1 AND status = -1 AND response_body <> ''",
                {std::string(key)});
            conn_.Exec("DELETE FROM idempotency_keys WHERE key = $1 AND status = -1",
                       {std::string(key)});
        });
    }

    StoreResult<std::vector<OutboxEntry>> ClaimOutbox(int limit,
                                                      std::chrono::milliseconds lease) override {
        return Guard(conn_, [&] {
            // SKIP LOCKED: two relays claiming at once take different rows; the lease
            // (claimed_until) keeps them from a live relay between its claim and its delete.
            auto rows = conn_.Exec(
                fmt::format(
                    "UPDATE outbox SET claimed_until = {0} + $2::bigint WHERE id IN ("
                    "  SELECT id FROM outbox WHERE claimed_until < {0} ORDER BY id LIMIT $1"
                    "  FOR UPDATE SKIP LOCKED)"
                    " RETURNING id, exchange, routing_key, message_id, correlation_id, type,"
                    "  app_id, traceparent, timestamp_ms, body",
                    kNowMs),
                {Num(limit), Num(lease.count())});
            std::vector<OutboxEntry> entries;
            entries.reserve(static_cast<size_t>(rows.Count()));
            for (int r = 0; r < rows.Count(); ++r) {
                entries.push_back(OutboxEntry{rows.Int64(r, 0), rows.Text(r, 1), rows.Text(r, 2),
                                              rows.Text(r, 3), rows.Text(r, 4), rows.Text(r, 5),
                                              rows.Text(r, 6), rows.Text(r, 7), rows.Int64(r, 8),
                                              rows.Text(r, 9)});
            }
            std::sort(entries.begin(), entries.end(),
                      [](const auto& a, const auto& b) { return a.id < b.id; });
            return entries;
        });
    }

    StoreResult<void> DeleteOutbox(std::span<const int64_t> ids) override {
        if (ids.empty()) return {};
        return Guard(conn_, [&] {
            conn_.Exec("DELETE FROM outbox WHERE id = ANY($1::bigint[])",
                       {IntArray(std::vector<int64_t>(ids.begin(), ids.end()))});
        });
    }

    StoreResult<void> ReleaseOutbox(std::span<const int64_t> ids) override {
        if (ids.empty()) return {};
        return Guard(conn_, [&] {
            conn_.Exec("UPDATE outbox SET claimed_until = 0 WHERE id = ANY($1::bigint[])",
                       {IntArray(std::vector<int64_t>(ids.begin(), ids.end()))});
        });
    }

    StoreResult<int64_t> OutboxDepth() override {
        return Guard(conn_, [&] { return conn_.Exec("SELECT count(*) FROM outbox").Int64(0, 0); });
    }

    StoreResult<StatsFigures> LoadStats() override {
        return Guard(conn_, [&] {
            // One snapshot for both tables: a batch committed in between is seen whole or not.
            auto rows = conn_.Exec(
                "SELECT name, value FROM stats_totals UNION ALL"
                " SELECT minute, orders FROM stats_minutes");
            StatsFigures figures;
            for (int r = 0; r < rows.Count(); ++r) {
                const auto name = rows.Text(r, 0);
                const auto value = rows.Int64(r, 1);
                if (name == "total_orders") {
                    figures.total_orders = value;
                } else if (name == "failed_orders") {
                    figures.failed_orders = value;
                } else {
                    figures.orders_per_minute[name] = value;
                }
            }
            return figures;
        });
    }

    StoreResult<std::optional<int64_t>> NextStreamOffset() override {
        return Guard(conn_, [&] {
            auto rows = conn_.Exec("SELECT next_offset FROM stream_offset WHERE id = 1");
            return rows.Count() == 0 ? std::nullopt : std::optional<int64_t>(rows.Int64(0, 0));
        });
    }

    StoreResult<int> PruneInbox(Millis older_than) override {
        return Guard(conn_, [&] {
            return conn_
                .Exec("DELETE FROM processed_messages WHERE processed_at < $1", {Num(older_than)})
                .Affected();
        });
    }

    StoreResult<int> PruneKeys(Millis older_than) override {
        return Guard(conn_, [&] {
            return conn_
                .Exec("DELETE FROM idempotency_keys WHERE created_at < $1", {Num(older_than)})
                .Affected();
        });
    }

    bool Ping() override {
        return Guard(conn_, [&] { return conn_.Exec("SELECT 1").Count() == 1; }).value_or(false);
    }
    uint64_t RoundTrips() const override { return conn_.RoundTrips(); }

  private:
    Connection conn_;
    PgUnitOfWork unit_;
    bool in_transact_ = false;  // see TransactScope
};

class PgStore final : public Store {
  public:
    explicit PgStore(StoreOptions options) : options_(std::move(options)) {}

    // Creates the schema, waiting for the database for up to `patience`.
    void Migrate(std::chrono::seconds patience) {
        Connection conn(options_.database_url, "");
        const auto deadline = std::chrono::steady_clock::now() + patience;
        while (true) {
            auto done = Guard(conn, [&] {
                conn.ExecScript("BEGIN");
                // Replicas starting together: one migrates, the others wait and find it done.
                conn.Exec("SELECT pg_advisory_xact_lock(hashtext('orderflow.schema'))");
                conn.ExecScript(
                    fmt::format("CREATE SCHEMA IF NOT EXISTS \"{0}\";"
                                " SET LOCAL search_path TO \"{0}\";",
                                options_.service));
                conn.ExecScript(kSchemaSql);
                conn.ExecScript("COMMIT");
            });
            if (done) return;
            if (done.error().kind != StoreError::Kind::kUnavailable ||
                std::chrono::steady_clock::now() > deadline) {
                throw std::runtime_error("cannot create the schema '" + options_.service +
                                         "': " + done.error().message);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
    }

    std::unique_ptr<Session> Connect(Durability /*durability*/) override {
        return std::make_unique<PgSession>(options_.database_url, options_.service);
    }
    std::string_view Backend() const override { return "postgres"; }
    bool Shared() const override { return true; }

  private:
    StoreOptions options_;
};

}  // namespace

std::unique_ptr<Store> OpenPostgresStore(const StoreOptions& options) {
    if (options.service.empty() ||
        options.service.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") !=
            std::string::npos) {
        throw std::invalid_argument("schema name must be [a-z0-9_]+: '" + options.service + "'");
    }
    auto store = std::make_unique<PgStore>(options);
    store->Migrate(std::chrono::seconds(30));
    return store;
}

int TerminateConnections(const std::string& url, const std::string& service) {
    Connection conn(url, "");
    auto done = Guard(conn, [&] {
        return conn
            .Exec(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = $1 AND pid <> pg_backend_pid()",
                {"orderflow-" + service})
            .Int64(0, 0);
    });
    if (!done) throw std::runtime_error(done.error().message);
    return static_cast<int>(*done);
}

std::string CreateDatabase(const std::string& admin_url, const std::string& name) {
    if (name.empty() ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
        throw std::invalid_argument("database name must be [a-z0-9_]+");
    }
    Connection conn(admin_url, "");
    auto created = Guard(conn, [&] {
        if (conn.Exec("SELECT 1 FROM pg_database WHERE datname = $1", {name}).Count() == 0) {
            conn.ExecScript("CREATE DATABASE " + name);
        }
    });
    if (!created) throw std::runtime_error("CREATE DATABASE failed: " + created.error().message);
    // Replace the path of the URL (postgresql://user:pw@host:port/db?params).
    const auto scheme = admin_url.find("://");
    const auto slash = admin_url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    const auto query = admin_url.find('?');
    std::string url = slash == std::string::npos ? admin_url : admin_url.substr(0, slash);
    url += "/" + name;
    if (query != std::string::npos) url += admin_url.substr(query);
    return url;
}

}  // namespace orderflow::store::postgres
