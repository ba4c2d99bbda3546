// Text, JSON and CSV renderings of a LoadResult; see report.hpp.
#include "load/report.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>

namespace orderflow::load {
namespace {

double Ms(int64_t micros) { return static_cast<double>(micros) / 1000.0; }

double Seconds(std::chrono::nanoseconds value) {
    return std::chrono::duration<double>(value).count();
}

std::string UrlText(const Url& url) {
    const bool v6 = url.host.find(':') != std::string::npos;
    return fmt::format("http://{}{}{}:{}{}", v6 ? "[" : "", url.host, v6 ? "]" : "", url.port,
                       url.target);
}

std::string ModeText(const LoadOptions& options) {
    const std::string threads =
        fmt::format("{} thread{}", options.threads, options.threads == 1 ? "" : "s");
    if (options.mode == LoopMode::kClosed) {
        return fmt::format("closed loop, {} connections, {}", options.concurrency, threads);
    }
    return fmt::format("open loop, {:g} req/s, up to {} connections, {}", options.rate,
                       options.max_connections, threads);
}

double FailureRate(const LoadResult& result) {
    return result.requests == 0
               ? 0.0
               : static_cast<double>(result.Errors()) / static_cast<double>(result.requests);
}

constexpr std::array<std::pair<const char*, double>, 5> kSummaryPercentiles{
    {{"p50", 50.0}, {"p90", 90.0}, {"p95", 95.0}, {"p99", 99.0}, {"p99_9", 99.9}}};

}  // namespace

std::string FormatSummary(const LoadOptions& options, const LoadResult& result) {
    const Histogram& latency = result.latency;
    std::string out =
        fmt::format("load: {} {}, {}\n", options.method, UrlText(options.url), ModeText(options));
    out += fmt::format("  duration    {:.2f} s (after {:.1f} s warm-up)\n", Seconds(result.elapsed),
                       Seconds(options.warmup));
    out += fmt::format("  requests    {} ({} answered)\n", result.requests, result.Answered());
    out += fmt::format("  throughput  {:.1f} req/s answered, {:.1f} req/s 2xx\n",
                       result.Throughput(), result.SuccessThroughput());
    out += fmt::format("  successes   {} (2xx)\n", result.successes);
    std::string errors;
    for (const auto& [status, count] : result.ErrorStatuses()) {
        errors +=
            fmt::format(", {} x{}", status == 0 ? "bad status" : std::to_string(status), count);
    }
    const std::pair<const char*, uint64_t> kinds[] = {{"connect", result.connect_errors},
                                                      {"timeout", result.timeouts},
                                                      {"io", result.io_errors},
                                                      {"unsent", result.unsent}};
    for (const auto& [kind, count] : kinds) {
        if (count > 0) errors += fmt::format(", {} x{}", kind, count);
    }
    out += fmt::format("  errors      {} ({:.2f}%){}{}\n", result.Errors(),
                       100.0 * FailureRate(result), errors.empty() ? "" : ":",
                       errors.empty() ? "" : errors.substr(1));
    out += fmt::format("  latency ms  min {:.3f}  avg {:.3f}", Ms(latency.Min()),
                       latency.Mean() / 1000.0);
    for (const auto& [name, percentile] : kSummaryPercentiles) {
        out += fmt::format("  {} {:.3f}", name, Ms(latency.ValueAtPercentile(percentile)));
    }
    out += fmt::format("  max {:.3f}\n", Ms(latency.Max()));
    if (options.mode == LoopMode::kOpen) {
        out += fmt::format(
            "  latency is measured from each request's scheduled send time; "
            "{} connections opened, at most {} requests waited for one\n",
            result.connections_opened, result.max_queue);
    }
    if (result.unsent > 0) {
        out += fmt::format(
            "  warning: {} requests were still waiting for a connection at the "
            "end: the target did not keep up with {:g} req/s\n",
            result.unsent, options.rate);
    }
    return out;
}

std::string FormatJson(const LoadOptions& options, const LoadResult& result) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> json(buffer);
    const auto key = [&json](const char* name) { json.Key(name); };
    json.StartObject();
    key("url");
    const std::string url = UrlText(options.url);
    json.String(url.c_str(), static_cast<rapidjson::SizeType>(url.size()));
    key("method");
    json.String(options.method.c_str());
    key("mode");
    json.String(options.mode == LoopMode::kClosed ? "closed" : "open");
    if (options.mode == LoopMode::kClosed) {
        key("concurrency");
        json.Uint(options.concurrency);
    } else {
        key("rate");
        json.Double(options.rate);
        key("max_connections");
        json.Uint(options.max_connections);
    }
    key("threads");
    json.Uint(options.threads);
    key("warmup_s");
    json.Double(Seconds(options.warmup));
    key("duration_s");
    json.Double(Seconds(result.elapsed));
    key("requests");
    json.Uint64(result.requests);
    key("answered");
    json.Uint64(result.Answered());
    key("successes");
    json.Uint64(result.successes);
    key("errors");
    json.Uint64(result.Errors());
    key("failure_rate");
    json.Double(FailureRate(result));
    key("throughput_rps");
    json.Double(result.Throughput());
    key("success_rps");
    json.Double(result.SuccessThroughput());
    key("errors_by_status");
    json.StartObject();
    for (const auto& [status, count] : result.ErrorStatuses()) {
        key(std::to_string(status).c_str());
        json.Uint64(count);
    }
    json.EndObject();
    key("connect_errors");
    json.Uint64(result.connect_errors);
    key("timeouts");
    json.Uint64(result.timeouts);
    key("io_errors");
    json.Uint64(result.io_errors);
    key("unsent");
    json.Uint64(result.unsent);
    key("connections_opened");
    json.Uint64(result.connections_opened);
    key("max_queue");
    json.Uint64(result.max_queue);
    key("latency_ms");
    json.StartObject();
    key("min");
    json.Double(Ms(result.latency.Min()));
    key("avg");
    json.Double(result.latency.Mean() / 1000.0);
    for (const auto& [name, percentile] : kSummaryPercentiles) {
        key(name);
        json.Double(Ms(result.latency.ValueAtPercentile(percentile)));
    }
    key("max");
    json.Double(Ms(result.latency.Max()));
    json.EndObject();
    json.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

std::string FormatSecondsCsv(const LoadResult& result) {
    std::string out = "second,requests,successes,errors,p50_ms,p99_ms,status_503\n";
    for (size_t second = 0; second < result.seconds.size(); ++second) {
        const SecondStats& row = result.seconds[second];
        out += fmt::format("{},{},{},{},{:.3f},{:.3f},{}\n", second, row.requests, row.successes,
                           row.errors, Ms(row.latency.ValueAtPercentile(50)),
                           Ms(row.latency.ValueAtPercentile(99)), row.unavailable);
    }
    return out;
}

std::string FormatPercentilesCsv(const LoadResult& result) {
    std::string out = "percentile,latency_ms\n";
    const auto row = [&](double percentile) {
        out += fmt::format("{:g},{:.3f}\n", percentile,
                           Ms(result.latency.ValueAtPercentile(percentile)));
    };
    for (int percentile = 0; percentile < 100; ++percentile) row(percentile);
    for (const double percentile : {99.5, 99.9, 99.95, 99.99, 100.0}) row(percentile);
    return out;
}

}  // namespace orderflow::load
