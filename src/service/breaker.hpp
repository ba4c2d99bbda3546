// Circuit breaker and retry backoff for the synchronous chain. Pure: the clock and the
// random source are injected, so the state machine is unit-tested without sleeping.
//
// Threading: CircuitBreaker is safe to use from several I/O threads (one mutex).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <string_view>

namespace orderflow::service {

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

class CircuitBreaker final {
  public:
    enum class State { kClosed, kOpen, kHalfOpen };

    // Opens after `failure_threshold` failed attempts in a row; stays open for `open_for`,
    // then lets one trial call through (half-open): its success closes the breaker, its
    // failure opens it again.
    CircuitBreaker(int failure_threshold, std::chrono::milliseconds open_for, SteadyClock clock);

    // Called after each change of state, outside the lock, on the thread that caused it
    // (for metrics and logs). Set it before the breaker is shared between threads.
    using Transition = std::function<void(State from, State to)>;
    void OnTransition(Transition callback) { on_transition_ = std::move(callback); }

    // May a call go out now? In half-open state only one trial is allowed at a time. Every
    // allowed call must end in OnSuccess or OnFailure, or a half-open breaker stays stuck.
    bool Allow();
    void OnSuccess();
    void OnFailure();
    State Current();
    int ConsecutiveFailures();

  private:
    void Notify(State from, State to) const;

    int threshold_;
    std::chrono::milliseconds open_for_;
    SteadyClock clock_;
    std::mutex mutex_;
    State state_ = State::kClosed;
    int failures_ = 0;
    bool trial_in_flight_ = false;
    std::chrono::steady_clock::time_point opened_at_{};
    Transition on_transition_;
};

std::string_view StateName(CircuitBreaker::State state);  // "closed", "open", "half_open"
// The value of the orderflow_circuit_breaker_state gauge: closed 0, open 1, half-open 2.
int StateValue(CircuitBreaker::State state);

// Full jitter: uniform in [0, base * 2^(retry-1)], retry = 1 for the first retry.
std::chrono::milliseconds BackoffDelay(int retry, std::chrono::milliseconds base,
                                       std::mt19937_64& rng);

}  // namespace orderflow::service
