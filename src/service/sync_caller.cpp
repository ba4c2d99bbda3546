// Timeout, retry with backoff, and circuit breaker around one sync-chain target; see
// sync_caller.hpp.
#include "service/sync_caller.hpp"

#include <fmt/format.h>

#include <boost/asio/steady_timer.hpp>

#include "telemetry/log.hpp"

namespace orderflow::service {

// One call from Post to `done`: owned by its pending completion handlers.
struct SyncCaller::Call {
    std::string path;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    Done done;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    SyncCallResult result;
    AttemptResult last = AttemptResult::kFailed;
};

std::string_view AttemptResultName(AttemptResult result) {
    switch (result) {
        case AttemptResult::kOk:
            return "ok";
        case AttemptResult::kRefused:
            return "refused";
        case AttemptResult::kFailed:
            return "failed";
        case AttemptResult::kTimeout:
            return "timeout";
    }
    return "unknown";
}

std::string_view SyncOutcomeName(SyncCallResult::Outcome outcome) {
    switch (outcome) {
        case SyncCallResult::Outcome::kOk:
            return "ok";
        case SyncCallResult::Outcome::kRefused:
            return "refused";
        case SyncCallResult::Outcome::kFailed:
            return "failed";
        case SyncCallResult::Outcome::kTimeout:
            return "timeout";
        case SyncCallResult::Outcome::kCircuitOpen:
            return "circuit_open";
    }
    return "unknown";
}

AttemptResult Classify(const http::ClientResult& result) {
    if (!result) {
        return result.error().kind == http::ClientError::Kind::kTimeout ? AttemptResult::kTimeout
                                                                        : AttemptResult::kFailed;
    }
    const int status = result->status;
    if (status >= 200 && status < 300) return AttemptResult::kOk;
    // 408 and 429 say "not now", not "never": worth another attempt.
    if (status >= 400 && status < 500 && status != 408 && status != 429) {
        return AttemptResult::kRefused;
    }
    return AttemptResult::kFailed;
}

SyncCaller::SyncCaller(boost::asio::any_io_executor executor, SyncCallOptions options,
                       telemetry::Registry& metrics)
    : executor_(executor),
      options_(std::move(options)),
      metrics_(metrics),
      client_(executor, options_.base_url),
      breaker_(options_.breaker_failures, options_.breaker_open_for, options_.clock),
      rng_(options_.seed) {
    auto& state = metrics_.GetGauge("orderflow_circuit_breaker_state",
                                    "Circuit breaker per sync-chain target: 0 closed, 1 open, "
                                    "2 half-open",
                                    {{"target", options_.target}});
    state.Set(StateValue(CircuitBreaker::State::kClosed));
    breaker_.OnTransition([&state, target = options_.target, &metrics = metrics_](
                              CircuitBreaker::State from, CircuitBreaker::State to) {
        state.Set(StateValue(to));
        metrics
            .GetCounter("orderflow_circuit_breaker_transitions_total",
                        "Circuit breaker state changes per sync-chain target",
                        {{"target", target}, {"state", std::string(StateName(to))}})
            .Inc();
        telemetry::Log(to == CircuitBreaker::State::kOpen ? telemetry::LogLevel::kWarn
                                                          : telemetry::LogLevel::kInfo,
                       "circuit breaker state changed",
                       {{"target", target},
                        {"from", std::string(StateName(from))},
                        {"to", std::string(StateName(to))}});
    });
}

SyncCaller::~SyncCaller() = default;

void SyncCaller::Post(std::string path, std::string body,
                      std::vector<std::pair<std::string, std::string>> headers, Done done) {
    auto call = std::make_shared<Call>();
    call->path = std::move(path);
    call->body = std::move(body);
    call->headers = std::move(headers);
    call->done = std::move(done);
    Attempt(call);
}

void SyncCaller::Attempt(const std::shared_ptr<Call>& call) {
    if (!breaker_.Allow()) {
        if (call->result.attempts == 0) {
            call->result.error = fmt::format("the circuit breaker of {} is open", options_.target);
            return Finish(call, SyncCallResult::Outcome::kCircuitOpen);
        }
        // The breaker opened during our retries: what we saw last is the answer.
        return Finish(call, call->last == AttemptResult::kTimeout
                                ? SyncCallResult::Outcome::kTimeout
                                : SyncCallResult::Outcome::kFailed);
    }
    ++call->result.attempts;
    client_.Send("POST", call->path, call->body, call->headers, options_.timeout,
                 [this, call](http::ClientResult result) { OnAttempt(call, std::move(result)); });
}

void SyncCaller::OnAttempt(const std::shared_ptr<Call>& call, http::ClientResult result) {
    const auto verdict = Classify(result);
    metrics_
        .GetCounter(
            "orderflow_sync_attempts_total", "Sync-chain HTTP attempts by target and result",
            {{"target", options_.target}, {"result", std::string(AttemptResultName(verdict))}})
        .Inc();
    call->last = verdict;
    if (result) {
        call->result.response = std::move(*result);
        if (verdict != AttemptResult::kOk) {
            call->result.error =
                fmt::format("{} answered {}", options_.target, call->result.response.status);
        }
    } else {
        call->result.error = fmt::format("{}: {}", options_.target, result.error().message);
    }

    switch (verdict) {
        case AttemptResult::kOk:
            breaker_.OnSuccess();
            return Finish(call, SyncCallResult::Outcome::kOk);
        case AttemptResult::kRefused:
            breaker_.OnSuccess();  // alive and answering: not a reason to open the circuit
            return Finish(call, SyncCallResult::Outcome::kRefused);
        case AttemptResult::kFailed:
        case AttemptResult::kTimeout:
            breaker_.OnFailure();
            break;
    }
    const auto final_outcome = verdict == AttemptResult::kTimeout
                                   ? SyncCallResult::Outcome::kTimeout
                                   : SyncCallResult::Outcome::kFailed;
    if (call->result.attempts > options_.retries) return Finish(call, final_outcome);
    // No point waiting out a backoff for an attempt the breaker will refuse.
    if (breaker_.Current() == CircuitBreaker::State::kOpen) return Finish(call, final_outcome);

    auto timer =
        std::make_shared<boost::asio::steady_timer>(executor_, NextBackoff(call->result.attempts));
    timer->async_wait([this, call, timer](const boost::system::error_code& ec) {
        if (ec) {  // only on shutdown: the io_context is going away
            call->result.error = "shutting down";
            return Finish(call, SyncCallResult::Outcome::kFailed);
        }
        Attempt(call);
    });
}

void SyncCaller::Finish(const std::shared_ptr<Call>& call, SyncCallResult::Outcome outcome) {
    call->result.outcome = outcome;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - call->started).count();
    metrics_
        .GetCounter(
            "orderflow_sync_calls_total",
            "Sync-chain calls (with their retries) by target and outcome",
            {{"target", options_.target}, {"outcome", std::string(SyncOutcomeName(outcome))}})
        .Inc();
    metrics_
        .GetHistogram("orderflow_sync_call_duration_seconds",
                      "Sync-chain call latency including retries and backoff",
                      {{"target", options_.target}})
        .Observe(seconds);
    auto done = std::move(call->done);
    try {
        done(std::move(call->result));
    } catch (const std::exception& e) {
        telemetry::Log(telemetry::LogLevel::kError, "sync call completion threw",
                       {{"target", options_.target}, {"error", e.what()}});
    }
}

std::chrono::milliseconds SyncCaller::NextBackoff(int retry) {
    std::lock_guard lock(rng_mutex_);
    return BackoffDelay(retry, options_.backoff_base, rng_);
}

}  // namespace orderflow::service
