// Splits a load run over worker threads and merges their results; see generator.hpp.
//
// Threads do not share connections: each runs an io_context of its own with its share of
// the concurrency (closed loop) or of the rate and connection limit (open loop, worker i
// takes requests i, i+N, i+2N, ... of the one schedule), which is how wrk-style tools
// scale without locks on the request path.
#include "load/generator.hpp"

#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "load/impl/worker.hpp"
#include "load/request_template.hpp"

namespace orderflow::load {

namespace asio = boost::asio;

namespace {

// Threads are started before the schedule begins, so that worker 0 does not run ahead.
constexpr std::chrono::milliseconds kStartDelay{20};

uint32_t ShareOf(uint32_t total, uint32_t parts, uint32_t index) {
    return total / parts + (index < total % parts ? 1 : 0);
}

std::expected<std::vector<asio::ip::tcp::endpoint>, std::string> Resolve(const Url& url) {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    boost::system::error_code ec;
    const auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
    if (ec || results.empty()) {
        return std::unexpected(fmt::format("cannot resolve '{}': {}", url.host, ec.message()));
    }
    std::vector<asio::ip::tcp::endpoint> endpoints;
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    return endpoints;
}

}  // namespace

std::expected<LoadResult, std::string> RunLoad(const LoadOptions& options,
                                               const std::atomic<bool>* stop) {
    if (auto valid = Validate(options); !valid) return std::unexpected(valid.error());
    auto endpoints = Resolve(options.url);
    if (!endpoints) return std::unexpected(endpoints.error());

    const RequestTemplate request(options);
    std::atomic<uint64_t> next_seq{options.seq_start};
    std::atomic<uint64_t> issued{0};
    impl::Target target;
    target.endpoints = std::move(*endpoints);
    target.request = &request;
    target.timeout = options.timeout;
    target.next_seq = &next_seq;

    const uint32_t threads = options.threads;
    const auto start = impl::Clock::now() + kStartDelay;
    const auto measure_start = start + options.warmup;
    const auto deadline = options.duration.count() > 0 ? measure_start + options.duration
                                                       : impl::Clock::time_point::max();
    std::vector<std::unique_ptr<impl::Worker>> workers;
    for (uint32_t i = 0; i < threads; ++i) {
        impl::WorkerPlan plan;
        plan.mode = options.mode;
        plan.start = start;
        plan.measure_start = measure_start;
        plan.deadline = deadline;
        plan.max_requests = options.max_requests;
        plan.issued = &issued;
        plan.stop = stop;
        if (options.mode == LoopMode::kClosed) {
            plan.connections = ShareOf(options.concurrency, threads, i);
        } else {
            plan.connections = ShareOf(options.max_connections, threads, i);
            const double interval_ns = 1e9 / options.rate;
            plan.offset = std::chrono::nanoseconds(static_cast<int64_t>(interval_ns * i));
            plan.interval_ns = interval_ns * threads;
        }
        workers.push_back(std::make_unique<impl::Worker>(target, plan));
    }

    std::vector<std::jthread> running;
    for (uint32_t i = 1; i < threads; ++i) {
        running.emplace_back([&worker = *workers[i]] { worker.Run(); });
    }
    workers[0]->Run();
    running.clear();  // joins

    LoadResult total = std::move(workers[0]->Result());
    for (uint32_t i = 1; i < threads; ++i) total.Merge(workers[i]->Result());
    return total;
}

}  // namespace orderflow::load
