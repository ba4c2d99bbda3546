// Service skeleton; see runtime.hpp.
#include "service/runtime.hpp"

#include <fmt/format.h>
#include <pthread.h>

#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <thread>

#include "events/ids.hpp"
#include "telemetry/log.hpp"

namespace orderflow::service {

Runtime::Runtime(const Config& config) : config_(config) { AddStandardRoutes(); }

Runtime::~Runtime() = default;

void Runtime::AddReadinessCheck(std::string name, std::function<bool()> check,
                                std::function<std::string()> why) {
    readiness_.push_back({std::move(name), std::move(check), std::move(why)});
}

void Runtime::OnShutdown(std::function<void()> hook) { shutdown_hooks_.push_back(std::move(hook)); }

void Runtime::AddStandardRoutes() {
    router_.Add("GET", "/healthz", [](http::Request&&, http::Respond respond) {
        respond(http::Json(200, R"({"status":"ok"})"));
    });
    router_.Add("GET", "/readyz", [this](http::Request&&, http::Respond respond) {
        bool ready = true;
        std::string checks;
        std::string problems;  // "name":"what is wrong", for the failing checks that know
        for (const auto& [name, check, why] : readiness_) {
            bool ok = false;
            std::string problem;
            try {
                ok = check();
                if (!ok && why) problem = why();
            } catch (const std::exception&) {
                ok = false;
            }
            ready = ready && ok;
            if (!checks.empty()) checks += ",";
            checks += fmt::format(R"("{}":"{}")", name, ok ? "ok" : "unavailable");
            if (problem.empty()) continue;
            if (!problems.empty()) problems += ",";
            telemetry::AppendJsonString(problems, name);
            problems += ":";
            telemetry::AppendJsonString(problems, problem);
        }
        respond(http::Json(
            ready ? 200 : 503,
            fmt::format(R"({{"status":"{}","checks":{{{}}}{}}})", ready ? "ready" : "not_ready",
                        checks, problems.empty() ? "" : ",\"problems\":{" + problems + "}")));
    });
    router_.Add("GET", "/metrics", [this](http::Request&&, http::Respond respond) {
        http::Response response;
        response.status = 200;
        response.content_type = "text/plain; version=0.0.4; charset=utf-8";
        response.body = metrics_.Render();
        respond(std::move(response));
    });
}

int Runtime::Run() {
    http::ServerOptions options;
    if (!http::ParseHostPort(config_.http_addr, options.address, options.port)) {
        telemetry::Log(telemetry::LogLevel::kError, "bad listen address",
                       {{"http_addr", config_.http_addr}});
        return 2;
    }
    options.on_complete = [this](const http::Request& request, const http::Response& response,
                                 std::chrono::nanoseconds elapsed) {
        const auto route = router_.RouteOf(request.path);
        const double seconds = std::chrono::duration<double>(elapsed).count();
        metrics_
            .GetCounter("orderflow_http_requests_total", "HTTP requests by route and status",
                        {{"route", route},
                         {"method", request.method},
                         {"status", std::to_string(response.status)}})
            .Inc();
        metrics_
            .GetHistogram("orderflow_http_request_duration_seconds", "HTTP request latency",
                          {{"route", route}})
            .Observe(seconds);
        if (route == "/metrics" || route == "/healthz" || route == "/readyz") return;
        // The ingress echoes the trace it used (a client's or a new one) in the response.
        std::string trace_id;
        const std::string* traceparent = request.Header("traceparent");
        for (const auto& [name, value] : response.headers) {
            if (name == "traceparent") traceparent = &value;
        }
        if (traceparent != nullptr) {
            if (auto ctx = events::ParseTraceparent(*traceparent)) trace_id = ctx->trace_id;
        }
        telemetry::Log(telemetry::LogLevel::kInfo, "request handled",
                       {{"method", request.method},
                        {"path", request.path},
                        {"status", response.status},
                        {"latency_ms", seconds * 1000.0},
                        {"trace_id", trace_id}});
    };

    server_ = std::make_unique<http::Server>(
        io_, options, [this](http::Request&& request, http::Respond respond) {
            router_.Handle(std::move(request), std::move(respond));
        });
    if (auto started = server_->Start(); !started) {
        telemetry::Log(telemetry::LogLevel::kError, "cannot listen",
                       {{"http_addr", config_.http_addr}, {"error", started.error()}});
        return 1;
    }
    telemetry::Log(telemetry::LogLevel::kInfo, "listening",
                   {{"address", options.address}, {"port", static_cast<int64_t>(server_->Port())}});

    // A broken pipe to a client must not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
    boost::asio::signal_set signals(io_, SIGINT, SIGTERM);
    auto stopped = stop_.get_future();
    signals.async_wait([this](const boost::system::error_code& error, int signal) {
        if (!error) Stop(signal);
    });

    std::vector<std::thread> threads;
    for (int i = 0; i < std::max(1, config_.http_threads); ++i) {
        threads.emplace_back([this] {
            ::pthread_setname_np(::pthread_self(), "http");
            // io_.run(), in passes: one handler (waiting for it), then those already
            // ready, up to kReadyPerPass. The log lines of a pass ("request handled", one a
            // request) go out in one write() at its end rather than one write() each.
            constexpr int kReadyPerPass = 64;
            while (true) {
                const telemetry::LogBatch lines;
                if (io_.run_one() == 0) break;  // stopped, or no work left
                int ready = 0;
                while (ready < kReadyPerPass && io_.poll_one() > 0) ++ready;
            }
        });
    }
    const int signal = stopped.get();
    telemetry::Log(telemetry::LogLevel::kInfo, "shutting down", {{"signal", signal}});
    // HTTP first: every request already being handled gets its answer while the publisher,
    // the store and the consumers it may need still run; new ones are refused (503).
    const auto drain = std::chrono::milliseconds(config_.shutdown_timeout_ms);
    if (!server_->Drain(drain)) {
        telemetry::Log(telemetry::LogLevel::kWarn, "requests still in flight at shutdown",
                       {{"waited_ms", static_cast<int64_t>(drain.count())}});
    }
    for (auto& hook : shutdown_hooks_) {
        try {
            hook();
        } catch (const std::exception& e) {
            telemetry::Log(telemetry::LogLevel::kError, "shutdown step failed",
                           {{"error", e.what()}});
        }
    }
    server_->Stop();
    io_.stop();
    for (auto& thread : threads) thread.join();
    telemetry::Log(telemetry::LogLevel::kInfo, "stopped");
    return 0;
}

void Runtime::RequestStop() { Stop(0); }

void Runtime::Stop(int signal) {
    if (!stop_requested_.exchange(true)) stop_.set_value(signal);
}

ParsedArgs ParseArgs(CLI::App& app, int argc, char** argv, Config& config) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return {false, code == 0 ? 0 : 2};
    }
    telemetry::LogFormat format = telemetry::LogFormat::kText;
    telemetry::ParseLogFormat(config.log_format, format);
    telemetry::ConfigureLog(config.service, format);
    return {true, 0};
}

}  // namespace orderflow::service
