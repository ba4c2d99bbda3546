// The analytics service's figures and stream offset (SQLite): totals, orders per minute and
// the offset to resume from, in the caller's transaction.
#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <optional>

#include "store/interfaces.hpp"

namespace orderflow::store {

class StatsTable final : public StreamStats {
  public:
    explicit StatsTable(SQLite::Database& db);  // creates the schema
    void Add(const StatsFigures& delta) override;
    void SetNextOffset(int64_t offset) override;
    StatsFigures Load();
    std::optional<int64_t> NextOffset();

  private:
    SQLite::Database& db_;
};

}  // namespace orderflow::store
