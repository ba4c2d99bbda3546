// Processed-message-id table: the idempotency half of exactly-once effects.
// Called inside the consumer's transaction, so check + effect + record commit together.
#pragma once

#include <SQLiteCpp/Database.h>

#include <string_view>

#include "store/sqlite/database.hpp"

namespace orderflow::store {

void CreateInboxSchema(SQLite::Database& db);
bool InboxContains(SQLite::Database& db, std::string_view message_id);
void InboxRecord(SQLite::Database& db, std::string_view message_id, Millis now);
// Records the id unless it is there already; true when it was new.
bool InboxClaim(SQLite::Database& db, std::string_view message_id, Millis now);
void InboxForget(SQLite::Database& db, std::string_view message_id);
// Deletes ids processed before `older_than`; returns how many.
int PruneInbox(SQLite::Database& db, Millis older_than);

}  // namespace orderflow::store
