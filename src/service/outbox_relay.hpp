// Publishes the transactional outbox with confirms: rows are deleted only after the
// broker confirmed them, so a crash at any point republishes (consumers dedupe by
// message_id) and never loses an event.
//
// Threading: one internal thread owns its own SQLite connection to the service's
// database; it hands messages to the Publisher and waits for their confirms.
#pragma once

#include <SQLiteCpp/Database.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "broker/publisher.hpp"
#include "telemetry/metrics.hpp"

namespace orderflow::service {

class OutboxRelay final {
  public:
    OutboxRelay(std::filesystem::path db_path, broker::Publisher& publisher,
                telemetry::Registry& metrics);
    ~OutboxRelay();
    OutboxRelay(const OutboxRelay&) = delete;
    OutboxRelay& operator=(const OutboxRelay&) = delete;

    void Start();
    void Notify();  // new rows were committed
    // Publishes until the outbox is empty or `timeout` passes; true if empty.
    bool Flush(std::chrono::milliseconds timeout);
    void Stop();
    int64_t Depth() const { return depth_.load(); }

  private:
    void Run();
    // One round: fetch a chunk, publish it, delete what was confirmed. Returns rows
    // confirmed, or -1 when nothing could be published (disconnected, nack).
    int PublishChunk();

    std::filesystem::path db_path_;
    broker::Publisher& publisher_;
    telemetry::Registry& metrics_;
    std::unique_ptr<SQLite::Database> db_;  // relay thread only
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable drained_;
    bool notified_ = false;
    bool stop_ = false;
    uint64_t rounds_ = 0;  // completed relay rounds
    std::atomic<int64_t> depth_{0};
};

}  // namespace orderflow::service
