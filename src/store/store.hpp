// The seam between the services and their database: a Store per process, a Session per
// thread (one connection), a UnitOfWork per transaction. Two backends implement it,
// src/store/sqlite (embedded, one writer: one replica per service) and src/store/postgres
// (shared by replicas). Failures come back as StoreError values.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/error.hpp"
#include "store/interfaces.hpp"
#include "store/records.hpp"

namespace orderflow::store {

// One transaction: the inbox claims, the effects, the outbox rows. Its methods throw
// StoreException on a backend failure (Session::Transact catches it).
class UnitOfWork {
  public:
    virtual ~UnitOfWork() = default;

    // Claims message ids for this transaction, oldest first: result[i] is false when ids[i]
    // was processed already (a duplicate), also by another replica. A claim made by a
    // concurrent transaction waits for it: an id's effect happens once.
    virtual std::vector<bool> Claim(std::span<const std::string> ids, Millis now) = 0;
    // Gives back claims of messages that ended without an effect (retried, poison).
    virtual void Unclaim(std::span<const std::string> ids) = 0;
    // Locks the stock rows of these skus until commit, in a fixed order (so two batches
    // cannot deadlock), so that later Available/Take cost no round trip.
    virtual void LockStock(std::span<const std::string> skus) = 0;

    // One item's savepoint: a failing item is undone alone.
    virtual void Savepoint() = 0;
    virtual void ReleaseSavepoint() = 0;
    virtual void RollbackSavepoint() = 0;

    virtual Stock& StockRows() = 0;
    virtual Notifications& NotificationRows() = 0;
    virtual OrderStages& OrderRows() = 0;
    virtual StreamStats& StatsRows() = 0;
    virtual void AddOutbox(const OutboxEntry& entry) = 0;
    // Deletes outbox rows the broker confirmed (a relay's), with this transaction: so a
    // consumer's batch commit also clears what the relay published, with no write of its own.
    virtual void DeleteOutbox(std::span<const int64_t> ids) = 0;
    // Keeps the first final answer: saving over one changes nothing; a final answer replaces
    // an unconfirmed or in-flight record, an unconfirmed one replaces only its like.
    virtual void SaveKey(const IdempotencyRecord& record, Millis now) = 0;
    virtual std::optional<IdempotencyRecord> FindKey(std::string_view key) = 0;
    // Stock levels set outright (tests and tools).
    virtual void SetStock(std::string_view sku, int64_t quantity) = 0;
};

// What a claim of an Idempotency-Key found (ClaimKey).
struct KeyClaim {
    bool claimed = false;                    // ours now, marked in flight
    std::optional<IdempotencyRecord> prior;  // what was there (if not claimed, or unconfirmed)
};

// One connection, used by one thread at a time.
class Session {
  public:
    virtual ~Session() = default;

    // Begins a transaction, runs `work`, commits. A serialization failure or deadlock is
    // retried (a few times) by running `work` again, so `work` must be repeatable. Any
    // exception `work` throws other than StoreException propagates after the rollback.
    virtual StoreResult<void> Transact(const std::function<void(UnitOfWork&)>& work) = 0;

    virtual StoreResult<std::map<std::string, int64_t>> StockLevels() = 0;
    // Loads `seed` only if the stock is empty (first start), safe when replicas start at once.
    virtual StoreResult<void> SeedStockIfEmpty(const std::map<std::string, int64_t>& seed) = 0;
    virtual StoreResult<std::vector<NotificationRecord>> NotificationsFor(
        std::string_view order_id) = 0;
    virtual StoreResult<int64_t> NotificationCount() = 0;
    virtual StoreResult<std::optional<OrderView>> FindOrder(std::string_view order_id) = 0;
    virtual StoreResult<int64_t> CountOrdersWithStatus(std::string_view status) = 0;
    virtual StoreResult<std::optional<IdempotencyRecord>> FindKey(std::string_view key) = 0;
    // Atomically: if `key` is unknown, or only unconfirmed, or in flight for longer than
    // `stale` or on a database connection that is gone (its replica died), marks it in
    // flight for us. Across replicas. The mark keeps `note`, the unconfirmed-order note of
    // the event this request is about to publish (see IdempotencyRecord), unless it already
    // holds one: whoever takes over a dead replica's mark publishes that same event again,
    // never a second order.
    virtual StoreResult<KeyClaim> ClaimKey(std::string_view key, std::string_view request_hash,
                                           std::string_view note, Millis now,
                                           std::chrono::milliseconds stale) = 0;
    // Drops our in-flight mark (the request ended without a record to keep).
    virtual StoreResult<void> ReleaseKey(std::string_view key) = 0;

    // The outbox relay: takes up to `limit` rows, oldest first, that no live relay holds,
    // and holds them for `lease` (another replica takes them over once it expires). A row
    // stays held until it is deleted or released (SQLite, one relay per file: for as long as
    // this session lives).
    virtual StoreResult<std::vector<OutboxEntry>> ClaimOutbox(int limit,
                                                              std::chrono::milliseconds lease) = 0;
    virtual StoreResult<void> DeleteOutbox(std::span<const int64_t> ids) = 0;
    // Lets other relays take these rows at once (their publish failed here).
    virtual StoreResult<void> ReleaseOutbox(std::span<const int64_t> ids) = 0;
    virtual StoreResult<int64_t> OutboxDepth() = 0;

    // Analytics: the figures so far, and the stream offset to resume from (none stored yet:
    // nullopt).
    virtual StoreResult<StatsFigures> LoadStats() = 0;
    virtual StoreResult<std::optional<int64_t>> NextStreamOffset() = 0;

    virtual StoreResult<int> PruneInbox(Millis older_than) = 0;
    virtual StoreResult<int> PruneKeys(Millis older_than) = 0;

    // True when the database answers (for /readyz).
    virtual bool Ping() = 0;
    // Round trips to the database server so far (0 for SQLite): what a batch costs.
    virtual uint64_t RoundTrips() const { return 0; }
};

struct StoreOptions {
    std::string service;                // "inventory": the schema (PostgreSQL) or file name
    std::string database_url;           // empty: SQLite; postgresql:// or postgres://: PostgreSQL
    std::filesystem::path sqlite_path;  // the SQLite file (when database_url is empty)
};

class Store {
  public:
    virtual ~Store() = default;
    // A new connection. Throws only on a start-up error (bad URL); a database that is
    // away gives a Session whose calls fail with kUnavailable until it is back.
    // `durability` matters to SQLite only (PostgreSQL's is the server's setting).
    virtual std::unique_ptr<Session> Connect(Durability durability = Durability::kFull) = 0;
    virtual std::string_view Backend() const = 0;  // "sqlite" | "postgres"
    // True when several replicas may share this store.
    virtual bool Shared() const = 0;
};

// Opens the store and creates its tables if missing (safe when replicas start at once).
// Throws on a start-up error.
std::unique_ptr<Store> OpenStore(const StoreOptions& options);

bool IsPostgresUrl(std::string_view url);

}  // namespace orderflow::store
