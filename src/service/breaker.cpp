// Circuit breaker state machine and backoff.
#include "service/breaker.hpp"

#include <algorithm>

namespace orderflow::service {

CircuitBreaker::CircuitBreaker(int failure_threshold, std::chrono::milliseconds open_for,
                               SteadyClock clock)
    : threshold_(std::max(1, failure_threshold)), open_for_(open_for), clock_(std::move(clock)) {}

void CircuitBreaker::Notify(State from, State to) const {
    if (from != to && on_transition_) on_transition_(from, to);
}

bool CircuitBreaker::Allow() {
    State from = State::kClosed;
    State to = State::kClosed;
    bool allowed = false;
    {
        std::lock_guard lock(mutex_);
        from = state_;
        switch (state_) {
            case State::kClosed:
                allowed = true;
                break;
            case State::kOpen:
                if (clock_() - opened_at_ < open_for_) break;
                state_ = State::kHalfOpen;
                trial_in_flight_ = true;
                allowed = true;
                break;
            case State::kHalfOpen:
                if (trial_in_flight_) break;
                trial_in_flight_ = true;
                allowed = true;
                break;
        }
        to = state_;
    }
    Notify(from, to);
    return allowed;
}

void CircuitBreaker::OnSuccess() {
    State from = State::kClosed;
    {
        std::lock_guard lock(mutex_);
        from = state_;
        state_ = State::kClosed;
        failures_ = 0;
        trial_in_flight_ = false;
    }
    Notify(from, State::kClosed);
}

void CircuitBreaker::OnFailure() {
    State from = State::kClosed;
    State to = State::kClosed;
    {
        std::lock_guard lock(mutex_);
        from = state_;
        ++failures_;
        if (state_ == State::kHalfOpen || (state_ == State::kClosed && failures_ >= threshold_)) {
            state_ = State::kOpen;
            opened_at_ = clock_();
        }
        trial_in_flight_ = false;
        to = state_;
    }
    Notify(from, to);
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
        case CircuitBreaker::State::kClosed:
            return "closed";
        case CircuitBreaker::State::kOpen:
            return "open";
        case CircuitBreaker::State::kHalfOpen:
            return "half_open";
    }
    return "unknown";
}

int StateValue(CircuitBreaker::State state) {
    switch (state) {
        case CircuitBreaker::State::kClosed:
            return 0;
        case CircuitBreaker::State::kOpen:
            return 1;
        case CircuitBreaker::State::kHalfOpen:
            return 2;
    }
    return -1;
}

std::chrono::milliseconds BackoffDelay(int retry, std::chrono::milliseconds base,
                                       std::mt19937_64& rng) {
    const int shift = std::clamp(retry - 1, 0, 20);
    const int64_t cap = base.count() << shift;
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, cap)(rng));
}

}  // namespace orderflow::service
