// Internals of the store: prepared statements cached per connection, and a write scope
// that opens a transaction only when the caller has none. Not for use outside src/store.
#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3_stmt;

namespace orderflow::store::impl {

// A prepared statement borrowed from its connection's cache for one execution; on
// destruction it is reset (ending any read it holds open) and unbound, ready for reuse.
// Preparing costs as much as running the small statements of the hot paths, and callers
// construct table objects per write, so the cache lives with the connection itself: it is
// finalized when the connection closes (an SQLITE_TRACE_CLOSE hook), which also keeps the
// close from failing on unfinalized statements. That hook takes the connection's only
// trace slot: nothing else may call sqlite3_trace_v2 on a store connection.
//
// Thread safety: a connection's cache may be reached from any thread; a statement is
// used by one borrower at a time, and a borrower that finds it busy (a nested query on
// the same connection) gets a private statement instead.
class Query final {
  public:
    // `sql` must have static storage duration (a literal): its address is the cache key.
    Query(SQLite::Database& db, const char* sql);
    ~Query();
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;

    Query& Bind(int index, std::string_view text);
    Query& Bind(int index, int64_t value);
    Query& BindBlob(int index, std::string_view bytes);
    Query& BindNull(int index);

    // Steps once: true if a row is available. Throws SQLite::Exception on error.
    bool Next();
    // Steps to completion (statements without results); returns the rows changed.
    int Run();
    // Ready to run again with new bindings (a loop inside one borrow).
    void Reset();

    [[nodiscard]] int64_t Int64(int column) const;
    [[nodiscard]] std::string Text(int column) const;  // also reads blobs, byte for byte
    [[nodiscard]] bool IsNull(int column) const;

  private:
    sqlite3* db_;
    const char* sql_;
    sqlite3_stmt* stmt_ = nullptr;
    bool owned_ = false;  // a private statement, finalized rather than returned
};

// True while the connection is inside a transaction (BEGIN or SAVEPOINT).
bool InTransaction(SQLite::Database& db);

// Makes a multi-statement write atomic on its own without nesting a transaction in the
// caller's: begins IMMEDIATE only if the connection has none (IMMEDIATE so that a
// read-then-write cannot fail with SQLITE_BUSY_SNAPSHOT), else joins the caller's.
// Rolls back on destruction unless committed.
class WriteScope final {
  public:
    explicit WriteScope(SQLite::Database& db);
    ~WriteScope();
    WriteScope(const WriteScope&) = delete;
    WriteScope& operator=(const WriteScope&) = delete;
    void Commit();

  private:
    SQLite::Database& db_;
    bool owned_;
    bool finished_ = false;
};

}  // namespace orderflow::store::impl
