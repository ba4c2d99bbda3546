// Fault injection (ORDERFLOW_INJECT_DELAY_MS / ORDERFLOW_INJECT_FAIL_RATE) and the
// test-only crash trigger. Off by default.
#pragma once

#include <chrono>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

namespace orderflow::service {

class FaultInjector final {
  public:
    FaultInjector(int delay_ms, double fail_rate, uint64_t seed);
    // Sleeps for the configured delay (the caller's thread: a consumer or an HTTP handler
    // running off the I/O threads), then says whether this handling fails transiently.
    bool DelayThenShouldFail();
    std::chrono::milliseconds Delay() const { return delay_; }
    bool ShouldFail();
    bool Enabled() const { return delay_.count() > 0 || fail_rate_ > 0.0; }

  private:
    std::chrono::milliseconds delay_;
    double fail_rate_;
    std::mutex mutex_;
    std::mt19937_64 rng_;
};

// ORDERFLOW_TEST_CRASH_MARKER: when set, a consumer aborts (a real crash, no cleanup) on
// any message whose body contains the marker. Only for the crash-loop test; documented
// in the README.
void CrashIfMarked(std::string_view body);

// ORDERFLOW_TEST_CRASH_AFTER_COMMIT_MARKER: when set, a consumer aborts right after the
// commit of a batch holding a message whose body contains the marker, before its outbox is
// published: the events wait in the outbox for another replica's relay. Tests only.
void CrashAfterCommitIfMarked(std::string_view body);

}  // namespace orderflow::service
