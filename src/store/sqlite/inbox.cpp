// Processed-message-id table; see inbox.hpp.
#include "store/sqlite/inbox.hpp"

#include "store/sqlite/impl/query.hpp"

namespace orderflow::store {
namespace {

// Pruning deletes in chunks so that, outside a transaction, the write lock is never held
// for long while a week of ids goes: consumers keep committing between chunks.
constexpr int64_t kPruneChunk = 5000;

}  // namespace

void CreateInboxSchema(SQLite::Database& db) {
    db.exec(
        "CREATE TABLE IF NOT EXISTS processed_messages ("
        "  message_id TEXT PRIMARY KEY,"
        "  processed_at INTEGER NOT NULL"
        ") WITHOUT ROWID;"
        "CREATE INDEX IF NOT EXISTS processed_messages_by_time"
        "  ON processed_messages (processed_at);");
}

bool InboxContains(SQLite::Database& db, std::string_view message_id) {
    impl::Query query(db, "SELECT 1 FROM processed_messages WHERE message_id = ?1");
    return query.Bind(1, message_id).Next();
}

void InboxRecord(SQLite::Database& db, std::string_view message_id, Millis now) {
    // A plain INSERT on purpose: recording an id twice means an effect was applied twice,
    // and the constraint error makes the caller's savepoint undo the second one.
    impl::Query query(db,
                      "INSERT INTO processed_messages (message_id, processed_at) VALUES (?1, ?2)");
    query.Bind(1, message_id).Bind(2, now).Run();
}

bool InboxClaim(SQLite::Database& db, std::string_view message_id, Millis now) {
    impl::Query query(db,
                      "INSERT INTO processed_messages (message_id, processed_at) VALUES (?1, ?2)"
                      " ON CONFLICT (message_id) DO NOTHING");
    return query.Bind(1, message_id).Bind(2, now).Run() == 1;
}

void InboxForget(SQLite::Database& db, std::string_view message_id) {
    impl::Query query(db, "DELETE FROM processed_messages WHERE message_id = ?1");
    query.Bind(1, message_id).Run();
}

int PruneInbox(SQLite::Database& db, Millis older_than) {
    int total = 0;
    while (true) {
        // One statement per chunk: atomic on its own, so no transaction of ours is needed.
        impl::Query query(db,
                          "DELETE FROM processed_messages WHERE message_id IN ("
                          "  SELECT message_id FROM processed_messages"
                          "  WHERE processed_at < ?1 LIMIT ?2)");
        const int deleted = query.Bind(1, older_than).Bind(2, kPruneChunk).Run();
        total += deleted;
        if (deleted < kPruneChunk) return total;
    }
}

}  // namespace orderflow::store
