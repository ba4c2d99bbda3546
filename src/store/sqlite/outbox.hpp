// Transactional outbox: events emitted by a handler are stored in the same transaction
// as its effect and published (with confirms) afterwards by the outbox relay.
#pragma once

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "store/sqlite/database.hpp"

namespace orderflow::store {

void CreateOutboxSchema(SQLite::Database& db);
void OutboxAdd(SQLite::Database& db, const OutboxEntry& entry);
// Oldest first, ids greater than `after_id`.
std::vector<OutboxEntry> OutboxFetch(SQLite::Database& db, int limit, int64_t after_id = 0);
// The rows of these ids that are still there, in the order given.
std::vector<OutboxEntry> OutboxFetchIds(SQLite::Database& db, std::span<const int64_t> ids);
void OutboxDelete(SQLite::Database& db, std::span<const int64_t> ids);
int64_t OutboxDepth(SQLite::Database& db);

}  // namespace orderflow::store
