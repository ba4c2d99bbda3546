// Group commit: many small writes from many threads become one SQLite transaction, so
// the ingress's per-request writes do not pay one fsync each.
//
// Threading: one internal thread owns the write connection; Submit() is thread-safe;
// completions run on the writer thread and must not block (post them elsewhere).
#pragma once

#include <SQLiteCpp/Database.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "store/database.hpp"

namespace orderflow::service {

class StoreWriter final {
  public:
    using Work = std::function<void(SQLite::Database&)>;
    using Done = std::function<void(bool ok)>;

    StoreWriter(std::filesystem::path path, store::Durability durability,
                std::function<void(SQLite::Database&)> init_schema);
    ~StoreWriter();
    StoreWriter(const StoreWriter&) = delete;
    StoreWriter& operator=(const StoreWriter&) = delete;

    void Submit(Work work, Done done);
    void Stop();  // finishes queued work

  private:
    void Run();

    std::unique_ptr<SQLite::Database> db_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::pair<Work, Done>> queue_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace orderflow::service
