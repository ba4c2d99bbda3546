// Opening service databases: directories, WAL, durability and lock waiting.
#include "store/sqlite/database.hpp"

#include <SQLiteCpp/Exception.h>
#include <sqlite3.h>

#include <chrono>
#include <string>
#include <thread>

#include "store/sqlite/impl/query.hpp"

namespace orderflow::store {
namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr std::string_view kInMemory = ":memory:";

bool IsBusy(const SQLite::Exception& e) {
    return e.getErrorCode() == SQLITE_BUSY || e.getErrorCode() == SQLITE_LOCKED;
}

// Switching a new file to WAL needs an exclusive lock. When several connections open a
// fresh file at once, that switch can report SQLITE_BUSY without waiting on the busy
// handler, so it is retried here for as long as the busy timeout would have waited.
std::string EnableWal(SQLite::Database& db) {
    constexpr auto kPause = std::chrono::milliseconds(10);
    constexpr int kAttempts = kBusyTimeoutMs / 10;
    for (int attempt = 1;; ++attempt) {
        try {
            return db.execAndGet("PRAGMA journal_mode=WAL").getString();
        } catch (const SQLite::Exception& e) {
            if (!IsBusy(e) || attempt >= kAttempts) throw;
        }
        std::this_thread::sleep_for(kPause);
    }
}

// SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, then 100 ms
// between attempts. Our writers are mostly threads of one process taking turns (a consumer's
// batch and the outbox relay's deletes) with transactions of a few milliseconds, so a waiter
// slept on for tens of milliseconds after the lock was free: 46 waits of 19 ms on average in
// 3 s of a backlog drain (strace). Retry after 50 us, doubling to 1 ms, for about as long
// as the busy timeout.
int WaitForLock(void* /*context*/, int attempts) {
    constexpr int kMaxPauseUs = 1000;
    if (attempts >= kBusyTimeoutMs * 1000 / kMaxPauseUs) return 0;  // give up: SQLITE_BUSY
    const int pause_us = attempts < 5 ? 50 << attempts : kMaxPauseUs;
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
    return 1;
}

}  // namespace

std::unique_ptr<SQLite::Database> OpenDatabase(const std::filesystem::path& path,
                                               Durability durability) {
    const bool in_memory = path.native() == kInMemory;
    if (!in_memory && path.has_parent_path()) {
        std::filesystem::create_directories(path.parent_path());
    }
    // SQLite counts every allocation under a global mutex, for sqlite3_memory_used() and the
    // soft heap limit, neither of which we use. Only possible before the library starts
    // (else SQLITE_MISUSE, harmless: the counting stays on).
    static const int kMemstatusOff = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)kMemstatusOff;
    // Multi-thread mode (NOMUTEX): a connection is used by one thread at a time (a Session's
    // contract; it may be opened on one thread and used on another), so SQLite's own
    // per-connection mutex, taken ~150 times per consumed message, guards nothing.
    auto db = std::make_unique<SQLite::Database>(
        path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
        kBusyTimeoutMs);

    sqlite3_busy_handler(db->getHandle(), &WaitForLock, nullptr);

    // WAL: readers never block the writer, nor the writer the readers; each service
    // thread has its own connection on the same file.
    const auto mode = EnableWal(*db);
    if (mode != (in_memory ? "memory" : "wal")) {
        throw SQLite::Exception("cannot use WAL journal mode on " + path.string() + " (got '" +
                                mode + "')");
    }
    // FULL also syncs the WAL on every commit, so an acked message's effect survives a
    // power loss; NORMAL syncs at checkpoints only, enough for rebuildable projections.
    db->exec(durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                             : "PRAGMA synchronous=NORMAL");
    db->exec("PRAGMA foreign_keys=ON");
    db->exec("PRAGMA temp_store=MEMORY");
    return db;
}

void BeginSavepoint(SQLite::Database& db) { impl::Query(db, "SAVEPOINT item").Run(); }

void ReleaseSavepoint(SQLite::Database& db) { impl::Query(db, "RELEASE item").Run(); }

void RollbackSavepoint(SQLite::Database& db) {
    impl::Query(db, "ROLLBACK TO item").Run();
    impl::Query(db, "RELEASE item").Run();
}

}  // namespace orderflow::store
