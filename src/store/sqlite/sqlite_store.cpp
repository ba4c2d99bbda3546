// SQLite implementation of Store, Session and UnitOfWork; see sqlite_store.hpp.
#include "store/sqlite/sqlite_store.hpp"

#include <SQLiteCpp/Exception.h>
#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "store/sqlite/database.hpp"
#include "store/sqlite/impl/query.hpp"
#include "store/sqlite/inbox.hpp"
#include "store/sqlite/notifications.hpp"
#include "store/sqlite/orders.hpp"
#include "store/sqlite/outbox.hpp"
#include "store/sqlite/stats.hpp"
#include "store/sqlite/stock.hpp"

namespace orderflow::store::sqlite {
namespace {

StoreError ToError(const SQLite::Exception& e) {
    switch (e.getErrorCode()) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return {StoreError::Kind::kTransient, e.what()};
        case SQLITE_CANTOPEN:
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_READONLY:
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
            return {StoreError::Kind::kUnavailable, e.what()};
        default:
            return {StoreError::Kind::kBug, e.what()};
    }
}

// Runs `body`, turning SQLite failures into StoreError values.
template <class F>
auto Guard(F&& body) -> StoreResult<decltype(body())> {
    try {
        if constexpr (std::is_void_v<decltype(body())>) {
            body();
            return {};
        } else {
            return body();
        }
    } catch (const SQLite::Exception& e) {
        return std::unexpected(ToError(e));
    } catch (const StoreException& e) {
        return std::unexpected(e.Error());
    } catch (const std::exception& e) {
        return std::unexpected(StoreError{StoreError::Kind::kBug, e.what()});
    }
}

void CreateSchema(SQLite::Database& db) {
    CreateInboxSchema(db);
    CreateOutboxSchema(db);
    StockTable stock(db);
    NotificationTable notifications(db);
    OrderTable orders(db);
    IdempotencyTable keys(db);
    StatsTable stats(db);
}

class SqliteUnitOfWork final : public UnitOfWork {
  public:
    explicit SqliteUnitOfWork(SQLite::Database& db)
        : db_(db), stock_(db), notifications_(db), orders_(db), keys_(db), stats_(db) {}

    std::vector<bool> Claim(std::span<const std::string> ids, Millis now) override {
        std::vector<bool> fresh;
        fresh.reserve(ids.size());
        for (const auto& id : ids) fresh.push_back(InboxClaim(db_, id, now));
        return fresh;
    }
    void Unclaim(std::span<const std::string> ids) override {
        for (const auto& id : ids) InboxForget(db_, id);
    }
    // The transaction holds SQLite's one write lock already.
    void LockStock(std::span<const std::string>) override {}
    void Savepoint() override { BeginSavepoint(db_); }
    void ReleaseSavepoint() override { store::ReleaseSavepoint(db_); }
    void RollbackSavepoint() override { store::RollbackSavepoint(db_); }
    Stock& StockRows() override { return stock_; }
    Notifications& NotificationRows() override { return notifications_; }
    OrderStages& OrderRows() override { return orders_; }
    StreamStats& StatsRows() override { return stats_; }
    void AddOutbox(const OutboxEntry& entry) override { OutboxAdd(db_, entry); }
    void DeleteOutbox(std::span<const int64_t> ids) override { OutboxDelete(db_, ids); }
    void SaveKey(const IdempotencyRecord& record, Millis now) override { keys_.Save(record, now); }
    std::optional<IdempotencyRecord> FindKey(std::string_view key) override {
        return keys_.Find(key);
    }
    void SetStock(std::string_view sku, int64_t quantity) override { stock_.Set(sku, quantity); }

  private:
    SQLite::Database& db_;
    StockTable stock_;
    NotificationTable notifications_;
    OrderTable orders_;
    IdempotencyTable keys_;
    StatsTable stats_;
};

// SQLite has one write lock per file. The threads of one process that write the same file
// (a consumer's batch, the outbox relay's deletes, the ingress's store writer) take turns on
// this mutex first, so a waiter sleeps on a futex and wakes when the lock is free, instead of
// failing BEGIN IMMEDIATE and polling through the busy handler (strace of inventory at 1,200
// orders/s: 306 busy-handler sleeps for 500 commits in 8 s). Other processes on the same file
// (orderflowctl, a second service by mistake) still meet the busy handler.
using WriteLock = std::shared_ptr<std::mutex>;

class SqliteSession final : public Session {
  public:
    SqliteSession(const std::filesystem::path& path, Durability durability, WriteLock writers)
        : db_(OpenDatabase(path, durability)), unit_(*db_), writers_(std::move(writers)) {}

    StoreResult<void> Transact(const std::function<void(UnitOfWork&)>& work) override {
        TransactScope scope(in_transact_);
        if (scope.Nested()) return std::unexpected(TransactScope::NestedError());
        constexpr int kAttempts = 3;
        for (int attempt = 1;; ++attempt) {
            auto result = Write([&] {
                impl::WriteScope txn(*db_);  // IMMEDIATE: no other transaction is open here
                work(unit_);
                txn.Commit();
            });
            if (result || result.error().kind != StoreError::Kind::kTransient ||
                attempt >= kAttempts) {
                return result;
            }
        }
    }

    StoreResult<std::map<std::string, int64_t>> StockLevels() override {
        return Guard([&] { return StockTable(*db_).All(); });
    }
    StoreResult<void> SeedStockIfEmpty(const std::map<std::string, int64_t>& seed) override {
        return Write([&] { StockTable(*db_).SeedIfEmpty(seed); });
    }
    StoreResult<std::vector<NotificationRecord>> NotificationsFor(
        std::string_view order_id) override {
        return Guard([&] { return NotificationTable(*db_).ForOrder(order_id); });
    }
    StoreResult<int64_t> NotificationCount() override {
        return Guard([&] { return NotificationTable(*db_).Count(); });
    }
    StoreResult<std::optional<OrderView>> FindOrder(std::string_view order_id) override {
        return Guard([&] { return OrderTable(*db_).Find(order_id); });
    }
    StoreResult<int64_t> CountOrdersWithStatus(std::string_view status) override {
        return Guard([&] { return OrderTable(*db_).CountWithStatus(status); });
    }
    StoreResult<std::optional<IdempotencyRecord>> FindKey(std::string_view key) override {
        return Guard([&] { return IdempotencyTable(*db_).Find(key); });
    }
    StoreResult<KeyClaim> ClaimKey(std::string_view key, std::string_view request_hash,
                                   std::string_view note, Millis now,
                                   std::chrono::milliseconds stale) override {
        return Write([&] {
            impl::WriteScope scope(*db_);
            IdempotencyTable keys(*db_);
            KeyClaim claim;
            claim.prior = keys.Find(key);
            const bool stale_mark = claim.prior &&
                                    claim.prior->status == IdempotencyRecord::kInFlight &&
                                    keys.CreatedAt(key) < now - stale.count();
            if (!claim.prior ||
                ((claim.prior->status == IdempotencyRecord::kUnconfirmed || stale_mark) &&
                 claim.prior->request_hash == request_hash)) {
                keys.MarkInFlight(key, request_hash, note, now);
                claim.claimed = true;
            }
            scope.Commit();
            return claim;
        });
    }
    StoreResult<void> ReleaseKey(std::string_view key) override {
        return Write([&] { IdempotencyTable(*db_).DropInFlight(key); });
    }
    StoreResult<std::vector<OutboxEntry>> ClaimOutbox(int limit,
                                                      std::chrono::milliseconds) override {
        // One relay per file: nothing to lease, but what this session took stays taken until
        // deleted or released. Ids grow in commit order (one writer, AUTOINCREMENT), so
        // "after the last id taken" never skips a row committed later; released rows are
        // taken again by id, so a release never hands back rows that are still held.
        return Guard([&] {
            std::vector<int64_t> again;
            for (auto it = released_.begin(); it != released_.end() && std::ssize(again) < limit;
                 ++it) {
                again.push_back(*it);
            }
            auto rows = OutboxFetchIds(*db_, again);
            const auto room = limit - std::ssize(rows);
            if (room > 0) {
                auto after = OutboxFetch(*db_, static_cast<int>(room), claimed_through_);
                if (!after.empty()) claimed_through_ = after.back().id;
                rows.insert(rows.end(), std::make_move_iterator(after.begin()),
                            std::make_move_iterator(after.end()));
            }
            for (const int64_t id : again) released_.erase(id);
            return rows;
        });
    }
    StoreResult<void> DeleteOutbox(std::span<const int64_t> ids) override {
        return Write([&] { OutboxDelete(*db_, ids); });
    }
    StoreResult<void> ReleaseOutbox(std::span<const int64_t> ids) override {
        for (const int64_t id : ids) {
            if (id <= claimed_through_) released_.insert(id);
        }
        return {};
    }
    StoreResult<int64_t> OutboxDepth() override {
        return Guard([&] { return store::OutboxDepth(*db_); });
    }
    StoreResult<StatsFigures> LoadStats() override {
        return Guard([&] { return StatsTable(*db_).Load(); });
    }
    StoreResult<std::optional<int64_t>> NextStreamOffset() override {
        return Guard([&] { return StatsTable(*db_).NextOffset(); });
    }
    StoreResult<int> PruneInbox(Millis older_than) override {
        return Write([&] { return store::PruneInbox(*db_, older_than); });
    }
    StoreResult<int> PruneKeys(Millis older_than) override {
        return Write([&] { return IdempotencyTable(*db_).Prune(older_than); });
    }
    bool Ping() override {
        return Guard([&] { return impl::Query(*db_, "SELECT 1").Next(); }).value_or(false);
    }

  private:
    // Guard, holding the process's write lock of this file (a write, or a transaction).
    template <class F>
    auto Write(F&& body) -> StoreResult<decltype(body())> {
        const std::lock_guard lock(*writers_);
        return Guard(std::forward<F>(body));
    }

    std::unique_ptr<SQLite::Database> db_;
    SqliteUnitOfWork unit_;
    bool in_transact_ = false;  // see TransactScope
    WriteLock writers_;
    int64_t claimed_through_ = 0;  // ClaimOutbox: the last outbox id this session took
    std::set<int64_t> released_;   // ReleaseOutbox: taken, then given back
};

class SqliteStore final : public Store {
  public:
    explicit SqliteStore(StoreOptions options) : options_(std::move(options)) {
        auto db = OpenDatabase(options_.sqlite_path, Durability::kFull);
        CreateSchema(*db);
    }
    std::unique_ptr<Session> Connect(Durability durability) override {
        return std::make_unique<SqliteSession>(options_.sqlite_path, durability, writers_);
    }
    std::string_view Backend() const override { return "sqlite"; }
    bool Shared() const override { return false; }

  private:
    StoreOptions options_;
    WriteLock writers_ = std::make_shared<std::mutex>();  // one file: one lock
};

}  // namespace

std::unique_ptr<Store> OpenSqliteStore(const StoreOptions& options) {
    return std::make_unique<SqliteStore>(options);
}

}  // namespace orderflow::store::sqlite
