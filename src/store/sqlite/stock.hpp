// Inventory stock table. Quantities never go negative (CHECK constraint as a backstop
// to the handler's all-or-nothing logic).
#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "store/interfaces.hpp"

namespace orderflow::store {

class StockTable final : public Stock {
  public:
    explicit StockTable(SQLite::Database& db);  // creates the schema
    // Loads `seed` only if the table is empty (first start).
    void SeedIfEmpty(const std::map<std::string, int64_t>& seed);
    std::optional<int64_t> Available(std::string_view sku) override;
    // Precondition: Available(sku) >= quantity (checked by the caller in the same txn).
    void Take(std::string_view sku, int64_t quantity) override;
    std::map<std::string, int64_t> All();
    void Set(std::string_view sku, int64_t quantity);

  private:
    SQLite::Database& db_;
};

}  // namespace orderflow::store
