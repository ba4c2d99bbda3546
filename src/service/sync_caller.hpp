// One target of the synchronous chain (inventory /reserve, notification /send): each call
// gets a per-attempt timeout, retries with exponential backoff and full jitter, and goes
// through the target's circuit breaker. Failures and timeouts are retried alike; an answer
// that refuses the request (4xx) is final and shows the target is alive.
//
// Threading: Call may be used from any thread and never blocks; the HTTP exchanges run on
// the client's strand and backoff waits on Asio timers of the same executor; `done` runs
// on an I/O thread. The caller object must outlive every call in flight.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/client.hpp"
#include "service/breaker.hpp"
#include "telemetry/metrics.hpp"

namespace orderflow::service {

struct SyncCallOptions {
    std::string target;    // "inventory": the metrics label and the name in errors
    std::string base_url;  // "http://127.0.0.1:8001"
    std::chrono::milliseconds timeout{5000};  // per attempt
    int retries = 2;                          // attempts = retries + 1
    std::chrono::milliseconds backoff_base{200};
    int breaker_failures = 5;
    std::chrono::milliseconds breaker_open_for{10000};
    SteadyClock clock = [] { return std::chrono::steady_clock::now(); };
    uint64_t seed = std::random_device{}();
};

// How one attempt ended.
enum class AttemptResult {
    kOk,       // 2xx
    kRefused,  // 4xx other than 408/429: the target is alive and said no; not retried
    kFailed,   // 5xx, 408, 429, connection refused, I/O error: retried
    kTimeout,  // no answer within the timeout: retried like a failure
};
std::string_view AttemptResultName(AttemptResult result);  // "ok", "refused", ...
AttemptResult Classify(const http::ClientResult& result);

struct SyncCallResult {
    enum class Outcome { kOk, kRefused, kFailed, kTimeout, kCircuitOpen };
    Outcome outcome = Outcome::kFailed;
    int attempts = 0;               // requests sent
    http::ClientResponse response;  // the last answer, if any (status 0: none)
    std::string error;              // the last failure, for error details and logs
};
// "ok", "refused", "failed", "timeout", "circuit_open": the outcome label of
// orderflow_sync_calls_total.
std::string_view SyncOutcomeName(SyncCallResult::Outcome outcome);

class SyncCaller final {
  public:
    // Throws std::invalid_argument for a bad base URL (a start-up error).
    SyncCaller(boost::asio::any_io_executor executor, SyncCallOptions options,
               telemetry::Registry& metrics);
    ~SyncCaller();
    SyncCaller(const SyncCaller&) = delete;
    SyncCaller& operator=(const SyncCaller&) = delete;

    using Done = std::function<void(SyncCallResult)>;
    // POSTs `body` to `path` (with its query) until an attempt succeeds or is refused, the
    // retries are used up, or the breaker refuses. When the breaker refuses the first
    // attempt the outcome is kCircuitOpen and nothing is sent; when it opens during the
    // retries, the call ends with its last failure.
    void Post(std::string path, std::string body,
              std::vector<std::pair<std::string, std::string>> headers, Done done);

    CircuitBreaker& Breaker() { return breaker_; }
    const SyncCallOptions& Options() const { return options_; }

  private:
    struct Call;
    void Attempt(const std::shared_ptr<Call>& call);
    void OnAttempt(const std::shared_ptr<Call>& call, http::ClientResult result);
    void Finish(const std::shared_ptr<Call>& call, SyncCallResult::Outcome outcome);
    std::chrono::milliseconds NextBackoff(int retry);

    boost::asio::any_io_executor executor_;
    SyncCallOptions options_;
    telemetry::Registry& metrics_;
    http::Client client_;
    CircuitBreaker breaker_;
    std::mutex rng_mutex_;
    std::mt19937_64 rng_;
};

}  // namespace orderflow::service
