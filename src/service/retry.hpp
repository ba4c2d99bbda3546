// Retry and dead-letter decisions, and the messages they produce. Pure: time and
// randomness are passed in, so all of it is unit-tested without a broker or a clock.
#pragma once

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "broker/message.hpp"
#include "events/ids.hpp"

namespace orderflow::service {

// Our own attempt counter (never the broker's x-death, whose counting changed between
// RabbitMQ releases). Absent means attempt 1.
inline constexpr const char* kAttemptsHeader = "x-attempts";

struct RetryPolicy {
    int max_attempts = 4;
    std::vector<std::chrono::milliseconds> delays{std::chrono::milliseconds(1000),
                                                  std::chrono::milliseconds(5000),
                                                  std::chrono::milliseconds(25000)};
    double jitter = 0.2;  // +/- fraction

    // Delay queues needed per work queue: one per distinct delay that can be used.
    int Levels() const;
};

struct RetryDecision {
    bool dead_letter = false;  // attempts exhausted
    int next_attempt = 0;      // attempt number the retried copy will carry
    int level = 0;             // delay queue level (1-based)
    std::chrono::milliseconds delay{0};
};

// `attempt` is the attempt that just failed transiently (1 for the first delivery).
RetryDecision DecideRetry(const RetryPolicy& policy, int attempt, std::mt19937_64& rng);

// The attempt number a delivery carries (x-attempts, default 1, at least 1).
int AttemptOf(const broker::Delivery& delivery);

enum class FailureKind { kPoison, kExhausted };
std::string_view FailureKindName(FailureKind kind);  // "poison", "exhausted"

struct FailureInfo {
    FailureKind kind = FailureKind::kPoison;
    std::string error;  // human-readable reason
    int attempts = 1;
    std::string consumer;  // "<service>@<host>"
    events::TimePoint now{};
};

// The copy published to orders.dlx (routing key = the failed queue) with the failure
// record of SPEC section 6 in its headers; original properties, traceparent and body kept.
broker::OutgoingMessage DeadLetterMessage(const broker::Delivery& delivery,
                                          const FailureInfo& failure);

// The copy parked in the delay queue `retry_queue` for `delay`, carrying next_attempt.
broker::OutgoingMessage RetryMessage(const broker::Delivery& delivery, int next_attempt,
                                     const broker::QueueName& retry_queue,
                                     std::chrono::milliseconds delay, events::TimePoint now,
                                     const std::string& error);

}  // namespace orderflow::service
