// What a load run measured: counts, errors by kind and status, the latency histogram and
// per-second rows. Each worker thread fills its own LoadResult; they are merged at the end,
// so recording never takes a lock.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "load/histogram.hpp"

namespace orderflow::load {

// Per-second precision is lower (0.8%) to keep a long run's rows small.
inline constexpr int kSecondHistogramBits = 6;

struct SecondStats {
    uint64_t requests = 0;
    uint64_t successes = 0;
    uint64_t errors = 0;
    uint64_t unavailable = 0;  // of the errors, 503 answers (e.g. a broker node lost)
    Histogram latency{kSecondHistogramBits};
};

enum class Failure {
    kConnect,  // could not connect
    kTimeout,  // no complete answer within --timeout of sending
    kIo,       // connection reset or closed mid-answer, malformed answer
    kUnsent,   // still waiting for a connection when the run ended (open loop)
};

struct LoadResult {
    // Latency of every answered request, whatever its status; transport failures have none.
    Histogram latency;
    uint64_t requests = 0;                  // answered + failed + unsent
    uint64_t successes = 0;                 // 2xx
    std::array<uint64_t, 600> by_status{};  // index = status; 0 holds out-of-range codes
    uint64_t connect_errors = 0;
    uint64_t timeouts = 0;
    uint64_t io_errors = 0;
    uint64_t unsent = 0;
    uint64_t connections_opened = 0;
    uint64_t max_queue = 0;  // open loop: most requests waiting for a connection at once
    std::chrono::nanoseconds elapsed{0};  // from the end of the warm-up to the last answer
    std::vector<SecondStats> seconds;     // by completion time since the end of the warm-up

    uint64_t Errors() const { return requests - successes; }
    uint64_t Answered() const { return requests - connect_errors - timeouts - io_errors - unsent; }
    double Throughput() const;         // answered requests (any status) per second of `elapsed`
    double SuccessThroughput() const;  // 2xx per second of `elapsed`
    std::map<int, uint64_t> ErrorStatuses() const;  // non-2xx statuses with their counts

    // `second` is the completion time's whole seconds since the end of the warm-up.
    void RecordAnswer(int status, std::chrono::nanoseconds latency, size_t second);
    void RecordFailure(Failure failure, size_t second);
    void Merge(const LoadResult& other);

  private:
    SecondStats& Second(size_t second);
};

}  // namespace orderflow::load
