// Retry policy and failure records.
#include "service/retry.hpp"

#include <algorithm>

#include "broker/topology.hpp"

namespace orderflow::service {
namespace {

// Broker bookkeeping that must not follow our republished copies around.
bool IsBrokerHeader(const std::string& name) {
    return name == "x-death" || name.starts_with("x-first-death") ||
           name.starts_with("x-last-death") || name == "x-delivery-count" ||
           name == "x-stream-offset";
}

// Original properties and headers, minus broker bookkeeping; where the message first
// entered the system is remembered across retries (a retried copy comes back through
// the default exchange, which would otherwise overwrite it).
broker::OutgoingMessage CopyOf(const broker::Delivery& delivery) {
    broker::OutgoingMessage out;
    out.properties = delivery.properties;
    out.properties.expiration.clear();
    out.body = delivery.body;
    out.mandatory = true;
    auto& headers = out.properties.headers;
    std::erase_if(headers, [](const auto& entry) { return IsBrokerHeader(entry.first); });
    if (!headers.contains("x-original-exchange")) {
        headers["x-original-exchange"] = delivery.exchange.value;
    }
    if (!headers.contains("x-original-routing-key")) {
        headers["x-original-routing-key"] = delivery.routing_key.value;
    }
    return out;
}

}  // namespace

int RetryPolicy::Levels() const {
    const int usable = std::max(1, max_attempts - 1);
    return std::clamp(static_cast<int>(delays.size()), 1, usable);
}

RetryDecision DecideRetry(const RetryPolicy& policy, int attempt, std::mt19937_64& rng) {
    RetryDecision decision;
    if (attempt >= policy.max_attempts || policy.delays.empty()) {
        decision.dead_letter = true;
        return decision;
    }
    decision.next_attempt = attempt + 1;
    // Delay before attempt n is delays[n-2]; past the list, the last delay repeats.
    const int index = std::min<int>(attempt - 1, policy.Levels() - 1);
    decision.level = index + 1;
    const auto base = policy.delays[static_cast<size_t>(
        std::min<int>(index, static_cast<int>(policy.delays.size()) - 1))];
    std::uniform_real_distribution<double> spread(1.0 - policy.jitter, 1.0 + policy.jitter);
    decision.delay = std::chrono::milliseconds(
        static_cast<int64_t>(static_cast<double>(base.count()) * spread(rng)));
    return decision;
}

int AttemptOf(const broker::Delivery& delivery) {
    const auto attempts = delivery.properties.IntHeader(kAttemptsHeader);
    return attempts && *attempts >= 1 ? static_cast<int>(*attempts) : 1;
}

std::string_view FailureKindName(FailureKind kind) {
    return kind == FailureKind::kPoison ? "poison" : "exhausted";
}

broker::OutgoingMessage DeadLetterMessage(const broker::Delivery& delivery,
                                          const FailureInfo& failure) {
    auto out = CopyOf(delivery);
    out.exchange = broker::kDeadLetterExchange;
    out.routing_key = broker::RoutingKey{delivery.queue.value};
    auto& headers = out.properties.headers;
    const auto now = events::FormatTime(failure.now);
    headers["x-error-kind"] = std::string(FailureKindName(failure.kind));
    headers["x-error"] = failure.error;
    headers["x-failed-queue"] = delivery.queue.value;
    headers[kAttemptsHeader] = int64_t{failure.attempts};
    if (!headers.contains("x-first-failed-at")) headers["x-first-failed-at"] = now;
    headers["x-failed-at"] = now;
    headers["x-consumer"] = failure.consumer;
    return out;
}

broker::OutgoingMessage RetryMessage(const broker::Delivery& delivery, int next_attempt,
                                     const broker::QueueName& retry_queue,
                                     std::chrono::milliseconds delay, events::TimePoint now,
                                     const std::string& error) {
    auto out = CopyOf(delivery);
    // The default exchange routes by queue name: only the delay queue gets it, and its
    // dead-letter settings send it back to the work queue alone.
    out.exchange = broker::ExchangeName{""};
    out.routing_key = broker::RoutingKey{retry_queue.value};
    out.properties.expiration = std::to_string(std::max<int64_t>(delay.count(), 0));
    auto& headers = out.properties.headers;
    headers[kAttemptsHeader] = int64_t{next_attempt};
    if (!headers.contains("x-first-failed-at"))
        headers["x-first-failed-at"] = events::FormatTime(now);
    headers["x-last-error"] = error;
    return out;
}

}  // namespace orderflow::service
