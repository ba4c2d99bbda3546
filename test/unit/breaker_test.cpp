// Circuit breaker and backoff with an injected clock.
#include "service/breaker.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace orderflow::service;
using namespace std::chrono_literals;

namespace {
struct FakeClock {
    std::chrono::steady_clock::time_point now{};
    SteadyClock Fn() {
        return [this] { return now; };
    }
};
}  // namespace

TEST_CASE("the breaker opens after 5 failed attempts in a row, not before") {
    FakeClock clock;
    CircuitBreaker breaker(5, 10s, clock.Fn());
    for (int i = 0; i < 4; ++i) {
        REQUIRE(breaker.Allow());
        breaker.OnFailure();
    }
    CHECK(breaker.Current() == CircuitBreaker::State::kClosed);
    REQUIRE(breaker.Allow());
    breaker.OnFailure();
    CHECK(breaker.Current() == CircuitBreaker::State::kOpen);
    CHECK_FALSE(breaker.Allow());
}

TEST_CASE("a success resets the count of failures in a row") {
    FakeClock clock;
    CircuitBreaker breaker(3, 10s, clock.Fn());
    breaker.OnFailure();
    breaker.OnFailure();
    breaker.OnSuccess();
    breaker.OnFailure();
    breaker.OnFailure();
    CHECK(breaker.Current() == CircuitBreaker::State::kClosed);
}

TEST_CASE("after the open period one trial goes through - its outcome decides") {
    FakeClock clock;
    CircuitBreaker breaker(1, 10s, clock.Fn());
    breaker.OnFailure();
    clock.now += 9999ms;
    CHECK_FALSE(breaker.Allow());
    clock.now += 1ms;
    CHECK(breaker.Allow());  // the trial
    CHECK(breaker.Current() == CircuitBreaker::State::kHalfOpen);
    CHECK_FALSE(breaker.Allow());  // only one trial at a time
    breaker.OnFailure();
    CHECK(breaker.Current() == CircuitBreaker::State::kOpen);
    CHECK_FALSE(breaker.Allow());
    clock.now += 10s;
    CHECK(breaker.Allow());
    breaker.OnSuccess();
    CHECK(breaker.Current() == CircuitBreaker::State::kClosed);
    CHECK(breaker.Allow());
    CHECK(breaker.Allow());
}

TEST_CASE("backoff uses full jitter under a doubling cap") {
    std::mt19937_64 rng(3);
    int64_t max_seen = 0;
    for (int i = 0; i < 2000; ++i) {
        const auto first = BackoffDelay(1, 200ms, rng);
        const auto second = BackoffDelay(2, 200ms, rng);
        REQUIRE(first >= 0ms);
        REQUIRE(first <= 200ms);
        REQUIRE(second <= 400ms);
        max_seen = std::max<int64_t>(max_seen, second.count());
    }
    CHECK(max_seen > 300);  // the whole range is used, not just the base
}

TEST_CASE("the breaker reports each change of state once, in order") {
    FakeClock clock;
    CircuitBreaker breaker(2, 1s, clock.Fn());
    std::vector<std::string> seen;
    breaker.OnTransition([&](CircuitBreaker::State from, CircuitBreaker::State to) {
        seen.push_back(std::string(StateName(from)) + ">" + std::string(StateName(to)));
    });
    breaker.OnFailure();
    breaker.OnFailure();  // opens
    CHECK_FALSE(breaker.Allow());
    clock.now += 1s;
    CHECK(breaker.Allow());  // half-open trial
    breaker.OnFailure();     // back to open
    clock.now += 1s;
    CHECK(breaker.Allow());
    breaker.OnSuccess();  // closed
    breaker.OnSuccess();  // no change, no report
    CHECK(seen == std::vector<std::string>{"closed>open", "open>half_open", "half_open>open",
                                           "open>half_open", "half_open>closed"});
    CHECK(StateValue(breaker.Current()) == 0);
    CHECK(StateValue(CircuitBreaker::State::kOpen) == 1);
    CHECK(StateValue(CircuitBreaker::State::kHalfOpen) == 2);
}

TEST_CASE("backoff with a zero base never waits") {
    std::mt19937_64 rng(1);
    for (int retry = 1; retry <= 5; ++retry) CHECK(BackoffDelay(retry, 0ms, rng) == 0ms);
}
