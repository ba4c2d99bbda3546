// Circuit breaker state machine and backoff.
#include "service/breaker.hpp"

#include <algorithm>

namespace orderflow::service {

CircuitBreaker::CircuitBreaker(int failure_threshold, std::chrono::milliseconds open_for,
                               SteadyClock clock)
    : threshold_(std::max(1, failure_threshold)), open_for_(open_for), clock_(std::move(clock)) {}

bool CircuitBreaker::Allow() {
    std::lock_guard lock(mutex_);
    switch (state_) {
        case State::kClosed:
            return true;
        case State::kOpen:
            if (clock_() - opened_at_ < open_for_) return false;
            state_ = State::kHalfOpen;
            trial_in_flight_ = true;
            return true;
        case State::kHalfOpen:
            if (trial_in_flight_) return false;
            trial_in_flight_ = true;
            return true;
    }
    return false;
}

void CircuitBreaker::OnSuccess() {
    std::lock_guard lock(mutex_);
    state_ = State::kClosed;
    failures_ = 0;
    trial_in_flight_ = false;
}

void CircuitBreaker::OnFailure() {
    std::lock_guard lock(mutex_);
    ++failures_;
    if (state_ == State::kHalfOpen || (state_ == State::kClosed && failures_ >= threshold_)) {
        state_ = State::kOpen;
        opened_at_ = clock_();
    }
    trial_in_flight_ = false;
}

CircuitBreaker::State CircuitBreaker::Current() {
    std::lock_guard lock(mutex_);
    return state_;
}

int CircuitBreaker::ConsecutiveFailures() {
    std::lock_guard lock(mutex_);
    return failures_;
}

std::string_view StateName(CircuitBreaker::State state) {
    switch (state) {
        case CircuitBreaker::State::kClosed: return "closed";
        case CircuitBreaker::State::kOpen: return "open";
        case CircuitBreaker::State::kHalfOpen: return "half_open";
    }
    return "unknown";
}

std::chrono::milliseconds BackoffDelay(int retry, std::chrono::milliseconds base,
                                       std::mt19937_64& rng) {
    const int shift = std::clamp(retry - 1, 0, 20);
    const int64_t cap = base.count() << shift;
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, cap)(rng));
}

}  // namespace orderflow::service
