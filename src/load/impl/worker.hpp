// One thread's share of a load run: its own io_context, connections and LoadResult, so
// workers never share mutable state but two atomic counters (sequence numbers and the
// --requests budget) and the stop flag.
//
// Closed loop: each connection sends its next request as soon as an answer arrives.
// Open loop: request k is due at start + offset + k * interval whatever happens to the
// others; a due request takes an idle connection, or opens one while fewer than the
// limit exist, or waits in a FIFO queue. Its latency runs from the due time, so waiting
// for a connection, or for a server that is behind, is measured (no coordinated omission).
//
// Threading: everything here runs on the thread that calls Run().
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <memory>
#include <vector>

#include "load/impl/connection.hpp"
#include "load/options.hpp"
#include "load/result.hpp"

namespace orderflow::load::impl {

struct WorkerPlan {
    LoopMode mode = LoopMode::kClosed;
    uint32_t connections = 1;            // closed: concurrency; open: the pool limit
    std::chrono::nanoseconds offset{0};  // open: due time of this worker's first request
    double interval_ns = 0;              // open: between this worker's requests
    Clock::time_point start;             // load begins (warm-up included)
    Clock::time_point measure_start;     // recording begins
    Clock::time_point deadline;          // no request is due at or after it
    uint64_t max_requests = 0;           // shared budget; 0 = none
    std::atomic<uint64_t>* issued = nullptr;
    const std::atomic<bool>* stop = nullptr;  // set from outside to end the run early
};

class Worker final : public Connection::Listener {
  public:
    Worker(const Target& target, WorkerPlan plan);
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void Run();  // returns when the run is over
    LoadResult& Result() { return result_; }

  private:
    void OnComplete(Connection& connection, const Completion& completion) override;
    void Record(const Completion& completion);
    bool TakeBudget(Clock::time_point intended);
    size_t SecondOf(Clock::time_point done) const;
    void WatchControl();
    void Stop();
    void FinishIfIdle();

    // Closed loop.
    void IssueNext(size_t slot);
    // Open loop.
    void ScheduleTick();
    void OnTick();
    void Pump();
    Connection* FreeConnection();

    const Target& target_;
    WorkerPlan plan_;
    boost::asio::io_context io_{1};
    boost::asio::steady_timer control_{io_};
    boost::asio::steady_timer schedule_{io_};
    std::vector<std::unique_ptr<Connection>> connections_;
    std::vector<std::unique_ptr<boost::asio::steady_timer>> retry_timers_;  // closed loop
    std::vector<Connection*> idle_;        // open loop: open and waiting for a request
    std::vector<Connection*> closed_;      // open loop: slots to reconnect
    std::deque<Clock::time_point> queue_;  // open loop: due requests without a connection
    uint64_t next_index_ = 0;              // open loop: k of the next due request
    Clock::time_point next_due_;
    size_t busy_ = 0;        // connections with a request out
    size_t live_slots_ = 0;  // closed loop: clients not yet retired
    bool stopping_ = false;
    bool scheduling_ = true;
    bool finished_ = false;
    Clock::time_point stopped_at_{};
    Clock::time_point last_done_{};
    LoadResult result_;
};

}  // namespace orderflow::load::impl
