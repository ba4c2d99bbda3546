// Order-status projection and Idempotency-Key records; see orders.hpp.
#include "store/sqlite/orders.hpp"

#include <stdexcept>

#include "store/sqlite/impl/query.hpp"

namespace orderflow::store {
namespace {

constexpr int64_t kPruneChunk = 5000;

}  // namespace

OrderTable::OrderTable(SQLite::Database& db) : db_(db) {
    // One row per (order, stage): recording is a single idempotent insert, atomic without
    // a transaction, and Find reads one consistent snapshot with one statement. The rank
    // is stored so that SQL can order and compare stages.
    // Prepared once per connection: the ingress builds an OrderTable per write.
    impl::Query(db_,
                "CREATE TABLE IF NOT EXISTS order_stages ("
                "  order_id TEXT NOT NULL,"
                "  status TEXT NOT NULL"
                "    CHECK (status IN ('accepted', 'reserved', 'rejected', 'notified')),"
                "  stage_rank INTEGER NOT NULL,"
                "  at TEXT NOT NULL,"
                "  outcome TEXT,"
                "  PRIMARY KEY (order_id, status)"
                ") WITHOUT ROWID")
        .Run();
}

void OrderTable::RecordStage(std::string_view order_id, std::string_view status,
                             std::string_view at, std::optional<std::string_view> outcome) {
    const int rank = StageRank(status);
    if (rank < 0) {
        throw std::invalid_argument("OrderTable::RecordStage: unknown stage '" +
                                    std::string(status) + "'");
    }
    // A repeat keeps its first time; it may only fill in an outcome not known before.
    impl::Query query(db_,
                      "INSERT INTO order_stages (order_id, status, stage_rank, at, outcome)"
                      " VALUES (?1, ?2, ?3, ?4, ?5)"
                      " ON CONFLICT (order_id, status)"
                      " DO UPDATE SET outcome = coalesce(outcome, excluded.outcome)");
    query.Bind(1, order_id).Bind(2, status).Bind(3, int64_t{rank}).Bind(4, at);
    if (outcome) {
        query.Bind(5, *outcome);
    } else {
        query.BindNull(5);
    }
    query.Run();
}

std::optional<OrderView> OrderTable::Find(std::string_view order_id) {
    impl::Query query(db_,
                      "SELECT status, at, outcome FROM order_stages WHERE order_id = ?1"
                      " ORDER BY stage_rank, at, status");
    query.Bind(1, order_id);
    std::optional<OrderView> view;
    while (query.Next()) {
        if (!view) view.emplace().order_id = std::string(order_id);
        view->history.push_back(OrderStage{.status = query.Text(0), .at = query.Text(1)});
        // The most advanced stage that knows the outcome has the last word.
        if (!query.IsNull(2)) view->outcome = query.Text(2);
    }
    if (view) view->status = view->history.back().status;
    return view;
}

int64_t OrderTable::CountWithStatus(std::string_view status) {
    // Orders whose latest stage (in Find's order) is `status`.
    impl::Query query(db_,
                      "SELECT count(*) FROM order_stages s WHERE s.status = ?1 AND NOT EXISTS ("
                      "  SELECT 1 FROM order_stages t WHERE t.order_id = s.order_id"
                      "  AND (t.stage_rank, t.at, t.status) > (s.stage_rank, s.at, s.status))");
    query.Bind(1, status).Next();
    return query.Int64(0);
}

IdempotencyTable::IdempotencyTable(SQLite::Database& db) : db_(db) {
    // Prepared once per connection, like OrderTable's (one statement per Query).
    impl::Query(db_,
                "CREATE TABLE IF NOT EXISTS idempotency_keys ("
                "  key TEXT PRIMARY KEY,"
                "  request_hash TEXT NOT NULL,"
                "  status INTEGER NOT NULL,"
                "  response_body TEXT NOT NULL,"
                "  created_at INTEGER NOT NULL"
                ")")
        .Run();
    impl::Query(db_,
                "CREATE INDEX IF NOT EXISTS idempotency_keys_by_time"
                " ON idempotency_keys (created_at)")
        .Run();
}

std::optional<IdempotencyRecord> IdempotencyTable::Find(std::string_view key) {
    impl::Query query(db_,
                      "SELECT key, request_hash, status, response_body FROM idempotency_keys"
                      " WHERE key = ?1");
    if (!query.Bind(1, key).Next()) return std::nullopt;
    return IdempotencyRecord{
        .key = query.Text(0),
        .request_hash = query.Text(1),
        .status = static_cast<int>(query.Int64(2)),
        .response_body = query.Text(3),
    };
}

void IdempotencyTable::Save(const IdempotencyRecord& record, Millis now) {
    // The first final answer is the one every repeat must get; an unconfirmed record is
    // only a note for the retry (status 0 sorts below every HTTP status).
    impl::Query query(db_,
                      "INSERT INTO idempotency_keys"
                      " (key, request_hash, status, response_body, created_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key) DO UPDATE SET"
                      "  request_hash = excluded.request_hash, status = excluded.status,"
                      "  response_body = excluded.response_body, created_at = excluded.created_at"
                      " WHERE idempotency_keys.status <= 0");
    query.Bind(1, record.key)
        .Bind(2, record.request_hash)
        .Bind(3, int64_t{record.status})
        .Bind(4, record.response_body)
        .Bind(5, now)
        .Run();
}

void IdempotencyTable::MarkInFlight(std::string_view key, std::string_view request_hash,
                                    std::string_view note, Millis now) {
    impl::Query query(db_,
                      "INSERT INTO idempotency_keys"
                      " (key, request_hash, status, response_body, created_at)"
                      " VALUES (?1, ?2, -1, ?4, ?3) ON CONFLICT (key) DO UPDATE SET"
                      "  status = -1, created_at = excluded.created_at,"
                      "  response_body = CASE WHEN idempotency_keys.response_body <> ''"
                      "    THEN idempotency_keys.response_body ELSE excluded.response_body END"
                      " WHERE idempotency_keys.status <= 0");
    query.Bind(1, key).Bind(2, request_hash).Bind(3, now).Bind(4, note).Run();
}

void IdempotencyTable::DropInFlight(std::string_view key) {
    // An unconfirmed note the mark replaced comes back; a bare mark goes.
    impl::Query restore(db_,
                        "UPDATE idempotency_keys SET status = 0"
                        " WHERE key = ?1 AND status = -1 AND response_body <> ''");
    restore.Bind(1, key).Run();
    impl::Query drop(db_, "DELETE FROM idempotency_keys WHERE key = ?1 AND status = -1");
    drop.Bind(1, key).Run();
}

Millis IdempotencyTable::CreatedAt(std::string_view key) {
    impl::Query query(db_, "SELECT created_at FROM idempotency_keys WHERE key = ?1");
    return query.Bind(1, key).Next() ? query.Int64(0) : 0;
}

int IdempotencyTable::Prune(Millis older_than) {
    // Chunked like the inbox prune, so a long outage's worth of keys never holds the write
    // lock for long; each chunk is one statement, atomic on its own.
    int total = 0;
    while (true) {
        impl::Query query(db_,
                          "DELETE FROM idempotency_keys WHERE key IN ("
                          "  SELECT key FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)");
        const int deleted = query.Bind(1, older_than).Bind(2, kPruneChunk).Run();
        total += deleted;
        if (deleted < kPruneChunk) return total;
    }
}

}  // namespace orderflow::store
