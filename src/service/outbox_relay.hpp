// Publishes the transactional outbox with confirms: rows are deleted only after the
// broker confirmed them, so a crash at any point republishes (consumers dedupe by
// message_id) and never loses an event.
//
// Who deletes: the consuming service's next batch transaction takes the confirmed ids
// (TakeConfirmed) and deletes them as part of its commit, so a batch costs one write of the
// store instead of two, and the consumer's connection keeps its page cache (another
// connection's write would void it). Ids no batch took within kDeleteGrace (the queue went
// quiet), or that a batch gave back (its transaction failed), the relay deletes itself.
// Until then they stay claimed, so no round publishes them again.
//
// Replicas on one PostgreSQL database: each relay claims rows for a lease (kLease) with
// FOR UPDATE SKIP LOCKED, so two live relays do not publish the same rows, and rows a dead
// replica left (committed but never published, or claimed and never deleted) are taken by
// another relay within the lease plus one poll: under 15 s.
//
// Threading: one internal thread owns its own store session; it hands messages to the
// Publisher and waits for their confirms. TakeConfirmed and GiveBack may be called from any
// thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/publisher.hpp"
#include "store/store.hpp"
#include "telemetry/metrics.hpp"

namespace orderflow::service {

class OutboxRelay final {
  public:
    static constexpr auto kLease = std::chrono::seconds(10);
    static constexpr auto kDeleteGrace = std::chrono::milliseconds(100);

    OutboxRelay(std::unique_ptr<store::Session> session, broker::Publisher& publisher,
                telemetry::Registry& metrics);
    ~OutboxRelay();
    OutboxRelay(const OutboxRelay&) = delete;
    OutboxRelay& operator=(const OutboxRelay&) = delete;

    void Start();
    void Notify();  // new rows were committed
    // Ids of confirmed rows, for the caller's transaction to delete; the caller owns them now.
    std::vector<int64_t> TakeConfirmed();
    // Its transaction did not commit: the relay deletes them on its next round.
    void GiveBack(std::vector<int64_t> ids);
    // Publishes until the outbox is empty or `timeout` passes; true if empty.
    bool Flush(std::chrono::milliseconds timeout);
    void Stop();

  private:
    void Run();
    // One round: claim a chunk, publish it, keep the confirmed ids for deletion. Returns rows
    // confirmed, or -1 when nothing could be published (disconnected, nack).
    int PublishChunk();
    // Deletes the confirmed ids still held: all of them, or those past kDeleteGrace.
    void DeleteConfirmed(bool all);
    // Releases `ids` and any an earlier call failed to release, for a round to send again;
    // throws if the store refused (they are kept for the next call).
    void Release(std::vector<int64_t> ids);

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
    bool idle_ = false;    // the last round found nothing of ours to publish or delete
    int flushing_ = 0;     // Flush calls waiting: delete confirmed ids at once
    // Confirmed, not deleted yet: for the next batch transaction (TakeConfirmed), else ours.
    std::vector<int64_t> confirmed_;
    std::chrono::steady_clock::time_point confirmed_since_;
    std::vector<int64_t> returned_;    // given back, or a failed delete's: ours, next round
    std::vector<int64_t> unreleased_;  // relay thread only: unconfirmed, release failed
    std::chrono::steady_clock::time_point unreleased_since_;  // relay thread only
};

}  // namespace orderflow::service
