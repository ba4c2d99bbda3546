// What the business handlers (src/handlers) need of the store, nothing of SQLite or
// libpq. Called inside a unit of work; a backend failure throws StoreException, which the
// unit of work turns into a StoreError value for the pipeline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/records.hpp"

namespace orderflow::store {

class Stock {
  public:
    virtual ~Stock() = default;
    // Quantity of `sku` as this transaction sees it (rows read are locked until commit on
    // PostgreSQL); nullopt if the sku is unknown.
    virtual std::optional<int64_t> Available(std::string_view sku) = 0;
    // Precondition: Available(sku) >= quantity. Never takes below zero: if it would, it
    // throws (kBug) and nothing is taken.
    virtual void Take(std::string_view sku, int64_t quantity) = 0;
};

class Notifications {
  public:
    virtual ~Notifications() = default;
    virtual void Add(const NotificationRecord& record) = 0;
};

class OrderStages {
  public:
    virtual ~OrderStages() = default;
    // Idempotent per (order_id, status): a repeated stage keeps its first time.
    // `outcome` ("confirmed"/"rejected") is set when known.
    virtual void RecordStage(std::string_view order_id, std::string_view status,
                             std::string_view at,
                             std::optional<std::string_view> outcome = std::nullopt) = 0;
};

// The analytics service's figures and the stream offset they reach, written in the same
// transaction: a restart resumes after the last batch whose figures were committed.
class StreamStats {
  public:
    virtual ~StreamStats() = default;
    // Adds a batch's figures to the stored ones.
    virtual void Add(const StatsFigures& delta) = 0;
    // The stream offset to resume from (the next one after this batch).
    virtual void SetNextOffset(int64_t offset) = 0;
};

}  // namespace orderflow::store
