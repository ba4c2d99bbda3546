// Notifications recorded by the notification service (GET /notifications?order_id=).
#pragma once

#include <SQLiteCpp/Database.h>

#include <string>
#include <string_view>
#include <vector>

#include "store/interfaces.hpp"
#include "store/sqlite/database.hpp"

namespace orderflow::store {

class NotificationTable final : public Notifications {
  public:
    explicit NotificationTable(SQLite::Database& db);  // creates the schema
    void Add(const NotificationRecord& record) override;
    std::vector<NotificationRecord> ForOrder(std::string_view order_id);
    int64_t Count();

  private:
    SQLite::Database& db_;
};

}  // namespace orderflow::store
