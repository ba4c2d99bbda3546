// SyncCaller against an in-process server on loopback: retries, timeouts, refusals and
// the circuit breaker, with the breaker's clock injected (no waiting out open periods).
#include "service/sync_caller.hpp"

#include <atomic>

#include "http_harness.hpp"

namespace service = orderflow::service;
namespace telemetry = orderflow::telemetry;
using orderflow::http_test::Harness;

namespace {

// The caller's own I/O threads, as in the ingress.
struct CallerIo {
    CallerIo() {
        for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
    }
    ~CallerIo() {
        work.reset();
        io.stop();
        for (auto& t : threads) t.join();
    }
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{
        io.get_executor()};
    std::vector<std::thread> threads;
};

// A steady clock the test moves by hand; read from I/O threads.
struct ManualClock {
    std::atomic<int64_t> offset_ms{0};
    service::SteadyClock Fn() {
        return [this] {
            return std::chrono::steady_clock::time_point{} + std::chrono::milliseconds(offset_ms);
        };
    }
};

// Answers each request with the next status of `script` (the last one repeats); counts them.
struct ScriptedTarget {
    explicit ScriptedTarget(std::vector<int> script)
        : harness({}, [this, script](http::Request&&, http::Respond respond) {
              const auto n = requests.fetch_add(1);
              const int status = script[std::min<size_t>(n, script.size() - 1)];
              respond(http::Json(status, R"({"n":)" + std::to_string(n) + "}"));
          }) {}
    std::atomic<int> requests{0};
    Harness harness;
};

service::SyncCallOptions Options(const std::string& url, ManualClock& clock) {
    service::SyncCallOptions options;
    options.target = "inventory";
    options.base_url = url;
    options.timeout = 2s;
    options.retries = 2;
    options.backoff_base = 5ms;
    options.breaker_failures = 100;
    options.breaker_open_for = 10s;
    options.clock = clock.Fn();
    options.seed = 7;
    return options;
}

service::SyncCallResult PostSync(service::SyncCaller& caller, std::string path = "/reserve") {
    auto promise = std::make_shared<std::promise<service::SyncCallResult>>();
    auto future = promise->get_future();
    caller.Post(std::move(path), "{}", {}, [promise](service::SyncCallResult result) {
        promise->set_value(std::move(result));
    });
    REQUIRE(future.wait_for(20s) == std::future_status::ready);
    return future.get();
}

}  // namespace

TEST_CASE("a failing target is tried retries + 1 times, then the call fails", "[sync]") {
    ScriptedTarget target({503});
    CallerIo io;
    ManualClock clock;
    telemetry::Registry metrics;
    service::SyncCaller caller(io.io.get_executor(), Options(target.harness.Url(), clock), metrics);
    const auto result = PostSync(caller);
    CHECK(result.outcome == service::SyncCallResult::Outcome::kFailed);
    CHECK(result.attempts == 3);
    CHECK(target.requests == 3);
    CHECK(result.response.status == 503);
    const auto text = metrics.Render();
    CHECK(text.find(R"(orderflow_sync_attempts_total{result="failed",target="inventory"} 3)") !=
          std::string::npos);
    CHECK(text.find(R"(orderflow_sync_calls_total{outcome="failed",target="inventory"} 1)") !=
          std::string::npos);
}

TEST_CASE("a failure followed by a success is one successful call", "[sync]") {
    ScriptedTarget target({500, 200});
    CallerIo io;
    ManualClock clock;
    telemetry::Registry metrics;
    service::SyncCaller caller(io.io.get_executor(), Options(target.harness.Url(), clock), metrics);
    const auto result = PostSync(caller);
    CHECK(result.outcome == service::SyncCallResult::Outcome::kOk);
    CHECK(result.attempts == 2);
    CHECK(result.response.body == R"({"n":1})");
    CHECK(caller.Breaker().ConsecutiveFailures() == 0);
}

TEST_CASE("a 4xx answer is final: not retried, and the breaker counts it as alive", "[sync]") {
    ScriptedTarget target({400});
    CallerIo io;
    ManualClock clock;
    telemetry::Registry metrics;
    auto options = Options(target.harness.Url(), clock);
    options.breaker_failures = 1;
    service::SyncCaller caller(io.io.get_executor(), options, metrics);
    const auto result = PostSync(caller);
    CHECK(result.outcome == service::SyncCallResult::Outcome::kRefused);
    CHECK(result.attempts == 1);
    CHECK(target.requests == 1);
    CHECK(caller.Breaker().Current() == service::CircuitBreaker::State::kClosed);
}

TEST_CASE("timeouts are retried like failures and reported as a timeout", "[sync]") {
    // The target never answers by itself; its Respond callbacks are kept until the end.
    std::mutex mutex;
    std::vector<http::Respond> held;
    Harness harness({}, [&](http::Request&&, http::Respond respond) {
        std::lock_guard lock(mutex);
        held.push_back(std::move(respond));
    });
    CallerIo io;
    ManualClock clock;
    telemetry::Registry metrics;
    auto options = Options(harness.Url(), clock);
    options.timeout = 100ms;
    options.retries = 1;
    service::SyncCaller caller(io.io.get_executor(), options, metrics);
    const auto started = std::chrono::steady_clock::now();
    const auto result = PostSync(caller);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(result.outcome == service::SyncCallResult::Outcome::kTimeout);
    CHECK(result.attempts == 2);
    CHECK(elapsed >= 200ms);  // two full timeouts
    CHECK(elapsed < 5s);
    std::lock_guard lock(mutex);
    CHECK(held.size() == 2);
    for (auto& respond : held) respond(http::Json(200, "{}"));
    // A Respond keeps its session (and its timer) alive: sessions must go before the
    // harness's io_context, which is destroyed first (ASan: heap-use-after-free otherwise).
    held.clear();
}

TEST_CASE("a refused connection is a failure, retried, then reported", "[sync]") {
    uint16_t closed_port = 0;
    {
        // Bind then close: nothing listens there afterwards.
        Harness probe({}, orderflow::http_test::EchoHandler());
        closed_port = probe.server->Port();
    }
    CallerIo io;
    ManualClock clock;
    telemetry::Registry metrics;
    service::SyncCaller caller(io.io.get_executor(),
                               Options("http://127.0.0.1:" + std::to_string(closed_port), clock),
                               metrics);
    const auto result = PostSync(caller);
    CHECK(result.outcome == service::SyncCallResult::Outcome::kFailed);
    CHECK(result.attempts == 3);
    CHECK(result.response.status == 0);
    CHECK(result.error.find("connect") != std::string::npos);
}

TEST_CASE("the breaker opens mid-call, refuses the next call unsent, then a trial closes it",
          "[sync]") {
    ScriptedTarget target({503, 503, 200});
    CallerIo io;
    ManualClock clock;
    telemetry::Registry metrics;
    auto options = Options(target.harness.Url(), clock);
    options.breaker_failures = 2;
    service::SyncCaller caller(io.io.get_executor(), options, metrics);

    // Two failed attempts open the breaker; the third attempt is not made.
    const auto first = PostSync(caller);
    CHECK(first.outcome == service::SyncCallResult::Outcome::kFailed);
    CHECK(first.attempts == 2);
    CHECK(caller.Breaker().Current() == service::CircuitBreaker::State::kOpen);
    CHECK(metrics.Render().find(R"(orderflow_circuit_breaker_state{target="inventory"} 1)") !=
          std::string::npos);

    const auto refused = PostSync(caller);
    CHECK(refused.outcome == service::SyncCallResult::Outcome::kCircuitOpen);
    CHECK(refused.attempts == 0);
    CHECK(target.requests == 2);

    clock.offset_ms += 10000;  // the open period is over: one trial goes through
    const auto trial = PostSync(caller);
    CHECK(trial.outcome == service::SyncCallResult::Outcome::kOk);
    CHECK(trial.attempts == 1);
    CHECK(target.requests == 3);
    CHECK(caller.Breaker().Current() == service::CircuitBreaker::State::kClosed);
    const auto text = metrics.Render();
    CHECK(text.find(R"(orderflow_circuit_breaker_state{target="inventory"} 0)") !=
          std::string::npos);
    CHECK(text.find(R"(orderflow_sync_calls_total{outcome="circuit_open",target="inventory"} 1)") !=
          std::string::npos);
    CHECK(
        text.find(
            R"(orderflow_circuit_breaker_transitions_total{state="half_open",target="inventory"} 1)") !=
        std::string::npos);
}

TEST_CASE("Classify maps answers to attempt results", "[sync]") {
    using service::AttemptResult;
    auto answer = [](int status) {
        return http::ClientResult(http::ClientResponse{status, {}, {}});
    };
    CHECK(service::Classify(answer(200)) == AttemptResult::kOk);
    CHECK(service::Classify(answer(204)) == AttemptResult::kOk);
    CHECK(service::Classify(answer(400)) == AttemptResult::kRefused);
    CHECK(service::Classify(answer(409)) == AttemptResult::kRefused);
    CHECK(service::Classify(answer(408)) == AttemptResult::kFailed);
    CHECK(service::Classify(answer(429)) == AttemptResult::kFailed);
    CHECK(service::Classify(answer(500)) == AttemptResult::kFailed);
    CHECK(service::Classify(answer(503)) == AttemptResult::kFailed);
    CHECK(service::Classify(std::unexpected(http::ClientError{http::ClientError::Kind::kTimeout,
                                                              "late"})) == AttemptResult::kTimeout);
    CHECK(service::Classify(std::unexpected(http::ClientError{
              http::ClientError::Kind::kConnect, "refused"})) == AttemptResult::kFailed);
}
