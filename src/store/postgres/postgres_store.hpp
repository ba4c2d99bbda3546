// The shared backend: PostgreSQL 15 through libpq, one schema per service, any number of
// replicas. READ COMMITTED; a batch is a constant number of round trips whatever its size:
// the inbox claim (INSERT ... ON CONFLICT DO NOTHING, the first statement), one lock of
// the batch's stock rows in sku order, then the effects buffered in memory and written
// with one set-based statement per table at commit.
#pragma once

#include <memory>

#include "store/store.hpp"

namespace orderflow::store::postgres {

std::unique_ptr<Store> OpenPostgresStore(const StoreOptions& options);

// Test support: creates a database (if missing) on the server of `admin_url` and returns the
// URL of that database, so that each test gets a store of its own.
std::string CreateDatabase(const std::string& admin_url, const std::string& name);

// Test support: closes, from the server side, every connection of the service whose
// schema is `service` (as a database restart would); returns how many.
int TerminateConnections(const std::string& url, const std::string& service);

}  // namespace orderflow::store::postgres
