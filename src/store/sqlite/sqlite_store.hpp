// The embedded backend: one SQLite file per service, one writer at a time, so one replica
// per service. Wraps the table functions of this folder behind store::Store.
#pragma once

#include <memory>

#include "store/store.hpp"

namespace orderflow::store::sqlite {

std::unique_ptr<Store> OpenSqliteStore(const StoreOptions& options);

}  // namespace orderflow::store::sqlite
