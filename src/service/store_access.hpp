// How the HTTP side of a service reaches its store: one session per I/O thread (a
// connection is used by one thread at a time), and the answer when the store is away.
#pragma once

#include "http/server.hpp"
#include "service/config.hpp"
#include "store/store.hpp"

namespace orderflow::service {

// This thread's read session on `store` (opened on first use, kept for the thread's life).
store::Session& ReaderSession(store::Store& store);

// 503 STORE_UNAVAILABLE with Retry-After (SPEC section 9), whatever the store error.
http::Response StoreUnavailable(const store::StoreError& error);

// The service's store: SQLite in data_dir/<service>.db, or ORDERFLOW_DATABASE_URL's
// PostgreSQL (schema <service>). Creates the tables. Throws on a start-up error.
std::unique_ptr<store::Store> OpenServiceStore(const Config& config);

}  // namespace orderflow::service
