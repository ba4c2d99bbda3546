// Inventory stock table; see stock.hpp.
#include "store/sqlite/stock.hpp"

#include <stdexcept>

#include "store/sqlite/impl/query.hpp"

namespace orderflow::store {

StockTable::StockTable(SQLite::Database& db) : db_(db) {
    db_.exec(
        "CREATE TABLE IF NOT EXISTS stock ("
        "  sku TEXT PRIMARY KEY,"
        "  quantity INTEGER NOT NULL CHECK (quantity >= 0)"
        ")");
}

void StockTable::SeedIfEmpty(const std::map<std::string, int64_t>& seed) {
    // Check and insert under one write lock: two processes starting on a fresh file must
    // not both see an empty table.
    impl::WriteScope scope(db_);
    {
        impl::Query any(db_, "SELECT 1 FROM stock LIMIT 1");
        if (any.Next()) return;
    }
    {
        impl::Query insert(db_, "INSERT INTO stock (sku, quantity) VALUES (?1, ?2)");
        for (const auto& [sku, quantity] : seed) {
            insert.Bind(1, sku).Bind(2, quantity).Run();
            insert.Reset();
        }
    }
    scope.Commit();
}

std::optional<int64_t> StockTable::Available(std::string_view sku) {
    impl::Query query(db_, "SELECT quantity FROM stock WHERE sku = ?1");
    if (!query.Bind(1, sku).Next()) return std::nullopt;
    return query.Int64(0);
}

void StockTable::Take(std::string_view sku, int64_t quantity) {
    if (quantity < 0) throw std::invalid_argument("StockTable::Take: negative quantity");
    // If the caller's check was wrong, the CHECK constraint fails this statement (and only
    // this statement) with an SQLite::Exception instead of storing a negative quantity.
    impl::Query query(db_, "UPDATE stock SET quantity = quantity - ?2 WHERE sku = ?1");
    if (query.Bind(1, sku).Bind(2, quantity).Run() == 0) {
        throw std::out_of_range("StockTable::Take: unknown sku '" + std::string(sku) + "'");
    }
}

std::map<std::string, int64_t> StockTable::All() {
    impl::Query query(db_, "SELECT sku, quantity FROM stock");
    std::map<std::string, int64_t> all;
    while (query.Next()) all.emplace(query.Text(0), query.Int64(1));
    return all;
}

void StockTable::Set(std::string_view sku, int64_t quantity) {
    impl::Query query(db_,
                      "INSERT INTO stock (sku, quantity) VALUES (?1, ?2)"
                      " ON CONFLICT (sku) DO UPDATE SET quantity = excluded.quantity");
    query.Bind(1, sku).Bind(2, quantity).Run();
}

}  // namespace orderflow::store
