// Transactional outbox table; see outbox.hpp.
#include "store/sqlite/outbox.hpp"

#include "store/sqlite/impl/query.hpp"

namespace orderflow::store {

void CreateOutboxSchema(SQLite::Database& db) {
    // AUTOINCREMENT: ids never go backwards, even after the newest rows are deleted, so a
    // relay reading "ids after N" cannot skip a row that reused an id.
    db.exec(
        "CREATE TABLE IF NOT EXISTS outbox ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  exchange TEXT NOT NULL,"
        "  routing_key TEXT NOT NULL,"
        "  message_id TEXT NOT NULL,"
        "  correlation_id TEXT NOT NULL,"
        "  type TEXT NOT NULL,"
        "  app_id TEXT NOT NULL,"
        "  traceparent TEXT NOT NULL,"
        "  timestamp_ms INTEGER NOT NULL,"
        "  body BLOB NOT NULL"
        ")");
}

void OutboxAdd(SQLite::Database& db, const OutboxEntry& entry) {
    impl::Query query(db,
                      "INSERT INTO outbox (exchange, routing_key, message_id, correlation_id,"
                      "  type, app_id, traceparent, timestamp_ms, body)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    query.Bind(1, entry.exchange)
        .Bind(2, entry.routing_key)
        .Bind(3, entry.message_id)
        .Bind(4, entry.correlation_id)
        .Bind(5, entry.type)
        .Bind(6, entry.app_id)
        .Bind(7, entry.traceparent)
        .Bind(8, entry.timestamp)
        .BindBlob(9, entry.body)
        .Run();
}

namespace {

OutboxEntry ReadRow(const impl::Query& query) {
    return OutboxEntry{
        .id = query.Int64(0),
        .exchange = query.Text(1),
        .routing_key = query.Text(2),
        .message_id = query.Text(3),
        .correlation_id = query.Text(4),
        .type = query.Text(5),
        .app_id = query.Text(6),
        .traceparent = query.Text(7),
        .timestamp = query.Int64(8),
        .body = query.Text(9),
    };
}

}  // namespace

std::vector<OutboxEntry> OutboxFetch(SQLite::Database& db, int limit, int64_t after_id) {
    impl::Query query(db,
                      "SELECT id, exchange, routing_key, message_id, correlation_id, type, app_id,"
                      "  traceparent, timestamp_ms, body"
                      " FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2");
    query.Bind(1, after_id).Bind(2, int64_t{limit});
    std::vector<OutboxEntry> rows;
    while (query.Next()) rows.push_back(ReadRow(query));
    return rows;
}

std::vector<OutboxEntry> OutboxFetchIds(SQLite::Database& db, std::span<const int64_t> ids) {
    std::vector<OutboxEntry> rows;
    impl::Query query(db,
                      "SELECT id, exchange, routing_key, message_id, correlation_id, type, app_id,"
                      "  traceparent, timestamp_ms, body FROM outbox WHERE id = ?1");
    for (const int64_t id : ids) {
        query.Bind(1, id);
        if (query.Next()) rows.push_back(ReadRow(query));
        query.Reset();
    }
    return rows;
}

void OutboxDelete(SQLite::Database& db, std::span<const int64_t> ids) {
    if (ids.empty()) return;
    // Outside a transaction (the relay's own deletes) one commit (one sync) for the chunk
    // instead of one per row; inside one (a consumer's batch) part of it.
    impl::WriteScope scope(db);
    {
        impl::Query query(db, "DELETE FROM outbox WHERE id = ?1");
        for (const int64_t id : ids) {
            query.Bind(1, id).Run();
            query.Reset();
        }
    }
    scope.Commit();
}

int64_t OutboxDepth(SQLite::Database& db) {
    impl::Query query(db, "SELECT count(*) FROM outbox");
    query.Next();
    return query.Int64(0);
}

}  // namespace orderflow::store
