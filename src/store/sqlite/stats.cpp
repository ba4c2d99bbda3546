// Analytics figures and stream offset; see stats.hpp. The tables are those analytics kept
// before the store interface existed, so an existing analytics.db resumes where it was.
#include "store/sqlite/stats.hpp"

#include "store/sqlite/impl/query.hpp"

namespace orderflow::store {

StatsTable::StatsTable(SQLite::Database& db) : db_(db) {
    db_.exec(
        "CREATE TABLE IF NOT EXISTS stats_totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS stats_minutes (minute TEXT PRIMARY KEY,"
        " orders INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS stream_offset (id INTEGER PRIMARY KEY CHECK (id = 1),"
        " next_offset INTEGER NOT NULL);");
}

void StatsTable::Add(const StatsFigures& delta) {
    {
        impl::Query total(db_,
                          "INSERT INTO stats_totals (name, value) VALUES (?1, ?2)"
                          " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value");
        total.Bind(1, "total_orders").Bind(2, delta.total_orders).Run();
        total.Reset();
        total.Bind(1, "failed_orders").Bind(2, delta.failed_orders).Run();
    }
    impl::Query minute(db_,
                       "INSERT INTO stats_minutes (minute, orders) VALUES (?1, ?2)"
                       " ON CONFLICT (minute) DO UPDATE SET orders = orders + excluded.orders");
    for (const auto& [name, orders] : delta.orders_per_minute) {
        minute.Bind(1, name).Bind(2, orders).Run();
        minute.Reset();
    }
}

void StatsTable::SetNextOffset(int64_t offset) {
    impl::Query(db_,
                "INSERT INTO stream_offset (id, next_offset) VALUES (1, ?1)"
                " ON CONFLICT (id) DO UPDATE SET next_offset = excluded.next_offset")
        .Bind(1, offset)
        .Run();
}

StatsFigures StatsTable::Load() {
    // One statement, one snapshot: a batch committed meanwhile is seen whole or not at all.
    impl::Query rows(db_,
                     "SELECT name, value FROM stats_totals UNION ALL"
                     " SELECT minute, orders FROM stats_minutes");
    StatsFigures figures;
    while (rows.Next()) {
        const auto name = rows.Text(0);
        if (name == "total_orders") {
            figures.total_orders = rows.Int64(1);
        } else if (name == "failed_orders") {
            figures.failed_orders = rows.Int64(1);
        } else {
            figures.orders_per_minute[name] = rows.Int64(1);
        }
    }
    return figures;
}

std::optional<int64_t> StatsTable::NextOffset() {
    impl::Query query(db_, "SELECT next_offset FROM stream_offset WHERE id = 1");
    if (!query.Next()) return std::nullopt;
    return query.Int64(0);
}

}  // namespace orderflow::store
