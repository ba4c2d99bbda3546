// Opening SQLite databases the way every orderflow service wants them: WAL, a busy
// timeout, and the schema of the tables the service uses.
#pragma once

#include <SQLiteCpp/Database.h>

#include <filesystem>
#include <memory>

namespace orderflow::store {

enum class Durability {
    kFull,    // synchronous=FULL: a commit survives power loss (consumers' inbox/outbox)
    kNormal,  // synchronous=NORMAL in WAL: survives a process crash (projections, caches)
};

// `path` may be ":memory:" (tests). Creates parent directories. Throws on failure
// (start-up error).
std::unique_ptr<SQLite::Database> OpenDatabase(const std::filesystem::path& path,
                                               Durability durability);

// True if the database file can be opened and read (for /readyz).
bool Probe(const std::filesystem::path& path);

// Milliseconds since the epoch, the unit of every time column.
using Millis = int64_t;

}  // namespace orderflow::store
