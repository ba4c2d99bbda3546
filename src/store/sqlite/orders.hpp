// The ingress's order-status projection and its Idempotency-Key records.
#pragma once

#include <SQLiteCpp/Database.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/interfaces.hpp"
#include "store/sqlite/database.hpp"

namespace orderflow::store {

class OrderTable final : public OrderStages {
  public:
    explicit OrderTable(SQLite::Database& db);  // creates the schema
    // Idempotent per (order_id, status): a repeated stage keeps its first time.
    // `outcome` ("confirmed"/"rejected") is set when known.
    void RecordStage(std::string_view order_id, std::string_view status, std::string_view at,
                     std::optional<std::string_view> outcome = std::nullopt) override;
    std::optional<OrderView> Find(std::string_view order_id);
    int64_t CountWithStatus(std::string_view status);

  private:
    SQLite::Database& db_;
};

class IdempotencyTable final {
  public:
    explicit IdempotencyTable(SQLite::Database& db);  // creates the schema
    std::optional<IdempotencyRecord> Find(std::string_view key);
    // Keeps the first final answer: saving over one changes nothing; a final answer
    // replaces an unconfirmed record, an unconfirmed one replaces only its like.
    void Save(const IdempotencyRecord& record, Millis now);
    int Prune(Millis older_than);
    // The in-flight mark of a first request (status kInFlight), kept in the store so that
    // every replica sees it; MarkInFlight replaces an unconfirmed or in-flight record.
    // The mark keeps the record's note if it has one, else takes `note`.
    void MarkInFlight(std::string_view key, std::string_view request_hash, std::string_view note,
                      Millis now);
    void DropInFlight(std::string_view key);
    Millis CreatedAt(std::string_view key);

  private:
    SQLite::Database& db_;
};

}  // namespace orderflow::store
