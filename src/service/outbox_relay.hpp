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
// Rounds: each claims a chunk of rows and hands it to the Publisher. Up to kMaxRounds are in
// flight at once, so rows committed while a round waits for its confirms go out at once in
// the next, rather than wait a confirm's round trip for the round before them to finish.
//
// Threading: one internal thread owns its own store session: it claims, deletes and
// releases. Confirms arrive on the Publisher's thread (Settle), which only records them.
// TakeConfirmed and GiveBack may be called from any thread.
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
    static constexpr int kMaxRounds = 4;

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
    struct Round;  // a chunk in flight; guarded by mutex_
    struct Failure {
        size_t confirmed = 0;
        size_t attempted = 0;
        broker::PublishStatus first = broker::PublishStatus::kConfirmed;
    };

    void Run();
    // Claims a chunk and hands it to the publisher. Returns the rows claimed, or -1 when not
    // connected (and the outbox is not empty).
    int StartRound();
    // Publisher thread (or the caller's, for an immediate refusal): one row's answer.
    void Settle(Round& round, int64_t id, broker::PublishStatus status);
    // Rounds that ended with rows unconfirmed: deletes what was confirmed, releases the rest
    // to be sent again. True if there were any.
    bool HandleFailures();
    // Deletes the confirmed ids still held: all of them, or those past kDeleteGrace.
    void DeleteConfirmed(bool all);

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
    bool completed_ = false;  // a round ended since the relay thread last looked
    bool stop_ = false;
    uint64_t rounds_ = 0;  // completed relay rounds
    bool idle_ = false;    // the last round found nothing of ours to publish or delete
    int flushing_ = 0;     // Flush calls waiting: delete confirmed ids at once
    // Confirmed, not deleted yet: for the next batch transaction (TakeConfirmed), else ours.
    std::vector<int64_t> confirmed_;
    std::chrono::steady_clock::time_point confirmed_since_;
    std::vector<int64_t> returned_;  // given back, or a failed delete's: ours, next round
    int rounds_in_flight_ = 0;
    bool clean_round_ = false;          // a round ended with every row confirmed
    std::vector<int64_t> unconfirmed_;  // of ended rounds: to release (HandleFailures)
    std::vector<Failure> failures_;     // ended rounds with rows unconfirmed, for the log
};

}  // namespace orderflow::service
