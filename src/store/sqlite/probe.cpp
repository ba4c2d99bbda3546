// Readiness probe of a service database.
#include <SQLiteCpp/Statement.h>

#include "store/sqlite/database.hpp"

namespace orderflow::store {

bool Probe(const std::filesystem::path& path) {
    try {
        SQLite::Database db(path.string(), SQLite::OPEN_READONLY, 1000);
        SQLite::Statement query(db, "SELECT count(*) FROM sqlite_master");
        return query.executeStep();
    } catch (const std::exception&) {
        return false;
    }
}

}  // namespace orderflow::store
