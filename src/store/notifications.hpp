// Notifications recorded by the notification service (GET /notifications?order_id=).
#pragma once

#include <SQLiteCpp/Database.h>

#include <string>
#include <string_view>
#include <vector>

#include "store/database.hpp"

namespace orderflow::store {

struct NotificationRecord {
    std::string order_id;
    std::string outcome;  // "confirmed" | "rejected"
    std::string message;
    std::string at;  // RFC 3339
};

class NotificationTable final {
  public:
    explicit NotificationTable(SQLite::Database& db);  // creates the schema
    void Add(const NotificationRecord& record);
    std::vector<NotificationRecord> ForOrder(std::string_view order_id);
    int64_t Count();

  private:
    SQLite::Database& db_;
};

}  // namespace orderflow::store
