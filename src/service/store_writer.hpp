// Group commit: many small writes from many threads become one store transaction, so
// the ingress's per-request writes do not pay one fsync (or one round trip) each.
//
// Threading: one internal thread owns the write session; Submit() is thread-safe;
// completions run on the writer thread and must not block (post them elsewhere).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "store/store.hpp"

namespace orderflow::service {

class StoreWriter final {
  public:
    using Work = std::function<void(store::UnitOfWork&)>;
    using Done = std::function<void(bool ok)>;

    explicit StoreWriter(std::unique_ptr<store::Session> session);
    ~StoreWriter();
    StoreWriter(const StoreWriter&) = delete;
    StoreWriter& operator=(const StoreWriter&) = delete;

    void Submit(Work work, Done done);
    void Stop();  // finishes queued work

  private:
    void Run();

    std::unique_ptr<store::Session> session_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::pair<Work, Done>> queue_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace orderflow::service
