// The ingress's order-status projection and its Idempotency-Key records.
#pragma once

#include <SQLiteCpp/Database.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"

namespace orderflow::store {

struct OrderStage {
    std::string status;  // accepted | reserved | rejected | notified
    std::string at;      // RFC 3339
};

struct OrderView {
    std::string order_id;
    std::string status;                  // latest stage
    std::optional<std::string> outcome;  // confirmed | rejected | unknown yet
    std::vector<OrderStage> history;     // in stage order
};

// Stage rank: accepted 0 < reserved/rejected 1 < notified 2. Events may arrive out of
// order (a reservation can overtake the ingress's own "accepted"), so the latest stage
// is the highest rank, never the last write.
int StageRank(std::string_view status);

class OrderTable final {
  public:
    explicit OrderTable(SQLite::Database& db);  // creates the schema
    // Idempotent per (order_id, status): a repeated stage keeps its first time.
    // `outcome` ("confirmed"/"rejected") is set when known.
    void RecordStage(std::string_view order_id, std::string_view status, std::string_view at,
                     std::optional<std::string_view> outcome = std::nullopt);
    std::optional<OrderView> Find(std::string_view order_id);
    int64_t CountWithStatus(std::string_view status);

  private:
    SQLite::Database& db_;
};

// What the ingress knows of an Idempotency-Key: the first final answer (status and body,
// replayed to every repeat), or, with status kUnconfirmed, the event it published without
// getting a confirm (response_body = order_id, event_id and occurred_at separated by
// spaces): that publish may have reached the queue, so a retry republishes that same event.
struct IdempotencyRecord {
    static constexpr int kUnconfirmed = 0;
    std::string key;
    std::string request_hash;
    int status = kUnconfirmed;
    std::string response_body;
};

class IdempotencyTable final {
  public:
    explicit IdempotencyTable(SQLite::Database& db);  // creates the schema
    std::optional<IdempotencyRecord> Find(std::string_view key);
    // Keeps the first final answer: saving over one changes nothing; a final answer
    // replaces an unconfirmed record, an unconfirmed one replaces only its like.
    void Save(const IdempotencyRecord& record, Millis now);
    int Prune(Millis older_than);

  private:
    SQLite::Database& db_;
};

}  // namespace orderflow::store
