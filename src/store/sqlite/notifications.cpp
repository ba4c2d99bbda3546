// Notification records; see notifications.hpp.
#include "store/sqlite/notifications.hpp"

#include "store/sqlite/impl/query.hpp"

namespace orderflow::store {

NotificationTable::NotificationTable(SQLite::Database& db) : db_(db) {
    // The index on order_id also carries the rowid, so ForOrder reads in insertion order
    // without sorting.
    db_.exec(
        "CREATE TABLE IF NOT EXISTS notifications ("
        "  id INTEGER PRIMARY KEY,"
        "  order_id TEXT NOT NULL,"
        "  outcome TEXT NOT NULL,"
        "  message TEXT NOT NULL,"
        "  at TEXT NOT NULL"
        ");"
        "CREATE INDEX IF NOT EXISTS notifications_by_order ON notifications (order_id);");
}

void NotificationTable::Add(const NotificationRecord& record) {
    impl::Query query(db_,
                      "INSERT INTO notifications (order_id, outcome, message, at)"
                      " VALUES (?1, ?2, ?3, ?4)");
    query.Bind(1, record.order_id)
        .Bind(2, record.outcome)
        .Bind(3, record.message)
        .Bind(4, record.at)
        .Run();
}

std::vector<NotificationRecord> NotificationTable::ForOrder(std::string_view order_id) {
    impl::Query query(db_,
                      "SELECT order_id, outcome, message, at FROM notifications"
                      " WHERE order_id = ?1 ORDER BY id");
    query.Bind(1, order_id);
    std::vector<NotificationRecord> records;
    while (query.Next()) {
        records.push_back(NotificationRecord{
            .order_id = query.Text(0),
            .outcome = query.Text(1),
            .message = query.Text(2),
            .at = query.Text(3),
        });
    }
    return records;
}

int64_t NotificationTable::Count() {
    impl::Query query(db_, "SELECT count(*) FROM notifications");
    query.Next();
    return query.Int64(0);
}

}  // namespace orderflow::store
