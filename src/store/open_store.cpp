// Chooses the backend from ORDERFLOW_DATABASE_URL; see store.hpp.
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"

namespace orderflow::store {

std::unique_ptr<Store> OpenStore(const StoreOptions& options) {
    if (options.database_url.empty()) return sqlite::OpenSqliteStore(options);
    if (IsPostgresUrl(options.database_url)) return postgres::OpenPostgresStore(options);
    throw std::invalid_argument(
        "ORDERFLOW_DATABASE_URL must be empty (SQLite) or a postgresql:// URI");
}

}  // namespace orderflow::store
