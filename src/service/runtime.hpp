// The skeleton every service shares: logging, metrics, the HTTP server with /healthz,
// /readyz and /metrics, I/O threads, SIGTERM/SIGINT, and an ordered shutdown.
//
// Threading: Run() blocks the calling (main) thread until a signal arrives; the
// io_context runs on `http_threads` threads; shutdown hooks run on the main thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "http/server.hpp"
#include "service/config.hpp"
#include "telemetry/metrics.hpp"

namespace orderflow::service {

class Runtime final {
  public:
    explicit Runtime(const Config& config);
    ~Runtime();

    telemetry::Registry& Metrics() { return metrics_; }
    http::Router& Router() { return router_; }
    boost::asio::io_context& Io() { return io_; }
    const Config& Settings() const { return config_; }

    // /readyz is 200 only while every check passes; `name` shows in its body. While a check
    // fails, `why` (if given and not empty) says what is wrong, in "problems" of the body:
    // it must never hold a secret.
    void AddReadinessCheck(std::string name, std::function<bool()> check,
                           std::function<std::string()> why = {});
    // Run in registration order on SIGTERM/SIGINT, before the I/O threads stop.
    void OnShutdown(std::function<void()> hook);

    // Starts the HTTP server; returns the process exit code once shut down.
    int Run();
    // For tests and tools: ask Run() to return as if a signal came.
    void RequestStop();

  private:
    void AddStandardRoutes();
    void Stop(int signal);

    Config config_;
    boost::asio::io_context io_;
    telemetry::Registry metrics_;
    http::Router router_;
    struct ReadinessCheck {
        std::string name;
        std::function<bool()> check;
        std::function<std::string()> why;
    };
    std::vector<ReadinessCheck> readiness_;
    std::vector<std::function<void()>> shutdown_hooks_;
    std::unique_ptr<http::Server> server_;
    std::promise<int> stop_;
    std::atomic<bool> stop_requested_{false};
};

// Standard start-up for a main: parses argv with CLI11 (exit 0 on --help, 2 on usage
// errors), configures logging. Returns nullopt when main should return `exit_code`.
struct ParsedArgs {
    bool proceed = false;
    int exit_code = 0;
};
ParsedArgs ParseArgs(CLI::App& app, int argc, char** argv, Config& config);

}  // namespace orderflow::service
