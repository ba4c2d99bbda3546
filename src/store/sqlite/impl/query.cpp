// Per-connection statement cache and write scope; see query.hpp.
#include "store/sqlite/impl/query.hpp"

#include <SQLiteCpp/Exception.h>
#include <sqlite3.h>

#include <mutex>
#include <unordered_map>
#include <utility>

namespace orderflow::store::impl {
namespace {

struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool busy = false;
};

// One connection's statements, keyed by the address of their SQL text.
using ConnectionCache = std::unordered_map<const char*, Cached>;

// Never destroyed: connections owned by statics or thread_locals may close after the
// registry would have been destroyed at exit.
struct Registry {
    std::mutex mutex;
    std::unordered_map<sqlite3*, ConnectionCache> connections;
};

Registry& TheRegistry() {
    static auto* registry = new Registry;
    return *registry;
}

// Runs at the start of sqlite3_close(), before SQLite checks for unfinalized statements,
// and also forgets the handle before its address can be reused by another connection.
int OnTrace(unsigned event, void* /*context*/, void* subject, void* /*detail*/) {
    if (event != SQLITE_TRACE_CLOSE) return 0;
    ConnectionCache cache;
    {
        auto& registry = TheRegistry();
        std::lock_guard lock(registry.mutex);
        auto node = registry.connections.extract(static_cast<sqlite3*>(subject));
        if (node.empty()) return 0;
        cache = std::move(node.mapped());
    }
    for (auto& [sql, cached] : cache) sqlite3_finalize(cached.stmt);
    return 0;
}

}  // namespace

Query::Query(SQLite::Database& db, const char* sql) : db_(db.getHandle()), sql_(sql) {
    auto& registry = TheRegistry();
    bool first_use = false;
    {
        std::lock_guard lock(registry.mutex);
        auto [connection, inserted] = registry.connections.try_emplace(db_);
        first_use = inserted;
        auto found = connection->second.find(sql);
        if (found != connection->second.end() && !found->second.busy) {
            found->second.busy = true;
            stmt_ = found->second.stmt;
            return;
        }
    }
    if (first_use) {
        // Outside the registry lock: this takes the connection's own mutex.
        if (const int rc = sqlite3_trace_v2(db_, SQLITE_TRACE_CLOSE, &OnTrace, nullptr);
            rc != SQLITE_OK) {
            std::lock_guard lock(registry.mutex);
            registry.connections.erase(db_);
            throw SQLite::Exception(db_, rc);
        }
    }
    // Preparing may wait on the busy timeout (schema reads), so never under the lock.
    if (const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
        rc != SQLITE_OK) {
        sqlite3_finalize(stmt_);
        throw SQLite::Exception(db_, rc);
    }
    std::lock_guard lock(registry.mutex);
    auto connection = registry.connections.find(db_);
    owned_ = connection == registry.connections.end() ||
             !connection->second.try_emplace(sql, Cached{stmt_, true}).second;
}

Query::~Query() {
    sqlite3_reset(stmt_);  // its result repeats the error Next() already threw
    sqlite3_clear_bindings(stmt_);
    if (owned_) {
        sqlite3_finalize(stmt_);
        return;
    }
    auto& registry = TheRegistry();
    std::lock_guard lock(registry.mutex);
    if (auto connection = registry.connections.find(db_);
        connection != registry.connections.end()) {
        if (auto found = connection->second.find(sql_); found != connection->second.end()) {
            found->second.busy = false;
        }
    }
}

Query& Query::Bind(int index, std::string_view text) {
    // A null pointer would bind SQL NULL, not the empty string.
    const char* data = text.data() != nullptr ? text.data() : "";
    const int rc =
        sqlite3_bind_text(stmt_, index, data, static_cast<int>(text.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) throw SQLite::Exception(db_, rc);
    return *this;
}

Query& Query::Bind(int index, int64_t value) {
    const int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) throw SQLite::Exception(db_, rc);
    return *this;
}

Query& Query::BindBlob(int index, std::string_view bytes) {
    const char* data = bytes.data() != nullptr ? bytes.data() : "";
    const int rc =
        sqlite3_bind_blob(stmt_, index, data, static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) throw SQLite::Exception(db_, rc);
    return *this;
}

Query& Query::BindNull(int index) {
    const int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) throw SQLite::Exception(db_, rc);
    return *this;
}

bool Query::Next() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SQLite::Exception(db_, rc);
}

int Query::Run() {
    while (Next()) {
    }
    return sqlite3_changes(db_);
}

void Query::Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

int64_t Query::Int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Query::Text(int column) const {
    // column_blob returns text bytes unconverted; bytes must be read after it.
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    const int size = sqlite3_column_bytes(stmt_, column);
    return data != nullptr ? std::string(data, static_cast<size_t>(size)) : std::string();
}

bool Query::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

bool InTransaction(SQLite::Database& db) { return sqlite3_get_autocommit(db.getHandle()) == 0; }

// BEGIN and COMMIT through the statement cache: sqlite3_exec would prepare them anew each
// time, a few thousand instructions per transaction (callgrind).
WriteScope::WriteScope(SQLite::Database& db) : db_(db), owned_(!InTransaction(db)) {
    if (owned_) Query(db_, "BEGIN IMMEDIATE").Run();
}

WriteScope::~WriteScope() {
    // Fails harmlessly if SQLite already rolled back after an error.
    if (owned_ && !finished_) db_.tryExec("ROLLBACK");
}

void WriteScope::Commit() {
    if (owned_ && !finished_) Query(db_, "COMMIT").Run();
    finished_ = true;
}

}  // namespace orderflow::store::impl
