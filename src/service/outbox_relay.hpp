// Publishes the transactional outbox with confirms: rows are deleted only after the
// broker confirmed them, so a crash at any point republishes (consumers dedupe by
// message_id) and never loses an event.
//
// Replicas on one PostgreSQL database: each relay claims rows for a lease (kLease) with
// FOR UPDATE SKIP LOCKED, so two live relays do not publish the same rows, and rows a dead
// replica left (committed but never published, or claimed and never deleted) are taken by
// another relay within the lease plus one poll: under 15 s.
//
// Threading: one internal thread owns its own store session; it hands messages to the
// Publisher and waits for their confirms.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "broker/publisher.hpp"
#include "store/store.hpp"
#include "telemetry/metrics.hpp"

namespace orderflow::service {

class OutboxRelay final {
  public:
    static constexpr auto kLease = std::chrono::seconds(10);

    OutboxRelay(std::unique_ptr<store::Session> session, broker::Publisher& publisher,
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

    std::unique_ptr<store::Session> session_;  // relay thread only (and the constructor)
    broker::Publisher& publisher_;
    // Looked up once: a round must not search the registry by name.
    telemetry::Counter& published_;
    telemetry::Counter& rounds_total_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable drained_;
    bool notified_ = false;
    bool stop_ = false;
    uint64_t rounds_ = 0;  // completed relay rounds
    bool idle_ = false;    // the last round found nothing of ours to publish
    std::atomic<int64_t> depth_{0};
};

}  // namespace orderflow::service
