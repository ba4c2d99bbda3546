// Opening SQLite databases (the embedded backend) the way every orderflow service wants them: WAL,
// a busy timeout, and the schema of the tables the service uses.
#pragma once

#include <SQLiteCpp/Database.h>

#include <filesystem>
#include <memory>

#include "store/records.hpp"

namespace orderflow::store {

// `path` may be ":memory:" (tests). Creates parent directories. Throws on failure
// (start-up error).
std::unique_ptr<SQLite::Database> OpenDatabase(const std::filesystem::path& path,
                                               Durability durability);

// True if the database file can be opened and read (for /readyz).
bool Probe(const std::filesystem::path& path);

// One item's savepoint inside a caller's transaction, so that a failing item is undone
// alone. The statements are prepared once per connection (a hot path runs them per message);
// each throws SQLite::Exception like Database::exec.
void BeginSavepoint(SQLite::Database& db);
void ReleaseSavepoint(SQLite::Database& db);
// ROLLBACK TO, then RELEASE: the item's writes are gone, the savepoint closed.
void RollbackSavepoint(SQLite::Database& db);

}  // namespace orderflow::store
