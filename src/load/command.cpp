// `orderflowctl load`: flag parsing, signal handling and output files; see command.hpp.
#include "load/command.hpp"

#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "load/generator.hpp"
#include "load/report.hpp"

namespace orderflow::load {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr uint32_t kDefaultConcurrency = 16;

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void OnStopSignal(int) { g_stop.store(true); }

// Installs the stop handler for the run and puts the previous ones back afterwards.
class StopSignals final {
  public:
    StopSignals() {
        g_stop.store(false);
        previous_int_ = std::signal(SIGINT, OnStopSignal);
        previous_term_ = std::signal(SIGTERM, OnStopSignal);
    }
    ~StopSignals() {
        std::signal(SIGINT, previous_int_);
        std::signal(SIGTERM, previous_term_);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

  private:
    void (*previous_int_)(int) = SIG_DFL;
    void (*previous_term_)(int) = SIG_DFL;
};

std::expected<LoadOptions, std::string> ToOptions(const LoadCommandArgs& args) {
    LoadOptions options;
    auto url = ParseUrl(args.url);
    if (!url) return std::unexpected(url.error());
    options.url = std::move(*url);
    options.method = args.method;
    for (const std::string& text : args.headers) {
        auto header = ParseHeader(text);
        if (!header) return std::unexpected(header.error());
        options.headers.push_back(std::move(*header));
    }
    if (!args.body_file.empty()) {
        std::ifstream file(args.body_file, std::ios::binary);
        if (!file) return std::unexpected(fmt::format("cannot read '{}'", args.body_file));
        std::ostringstream content;
        content << file.rdbuf();
        options.body = content.str();
    } else if (!args.body.empty()) {
        options.body = args.body;
    } else if (options.method == "POST" || options.method == "PUT" || options.method == "PATCH") {
        options.body = std::string(kDefaultOrderBody);
    }
    if (args.rate > 0) {
        options.mode = LoopMode::kOpen;
        options.rate = args.rate;
    } else if (args.rate < 0) {
        return std::unexpected("--rate must be > 0");
    } else {
        options.concurrency = args.concurrency > 0 ? args.concurrency : kDefaultConcurrency;
    }
    if (!args.duration.empty()) {
        auto duration = ParseDuration(args.duration);
        if (!duration) return std::unexpected(duration.error());
        options.duration = *duration;
    }
    auto warmup = ParseDuration(args.warmup, true);
    if (!warmup) return std::unexpected(warmup.error());
    options.warmup = *warmup;
    options.max_requests = args.requests;
    options.max_connections = args.connections;
    options.timeout = std::chrono::milliseconds(args.timeout_ms);
    options.threads = args.threads;
    options.seq_start = args.seq_start;
    if (auto valid = Validate(options); !valid) return std::unexpected(valid.error());
    return options;
}

bool WriteFile(const std::string& path, const std::string& content, std::ostream& err) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << content;
    file.close();
    if (!file) {
        err << fmt::format("orderflowctl load: cannot write '{}'\n", path);
        return false;
    }
    return true;
}

}  // namespace

int RunLoadCommand(const LoadCommandArgs& args, std::ostream& out, std::ostream& err) {
    auto options = ToOptions(args);
    if (!options) {
        err << "orderflowctl load: " << options.error() << "\n";
        return kExitUsage;
    }
    std::expected<LoadResult, std::string> result;
    {
        const StopSignals signals;
        result = RunLoad(*options, &g_stop);
    }
    if (!result) {
        err << "orderflowctl load: " << result.error() << "\n";
        return kExitFailure;
    }
    out << (args.json ? FormatJson(*options, *result) : FormatSummary(*options, *result));
    out.flush();
    bool written = true;
    if (!args.csv.empty()) written &= WriteFile(args.csv, FormatSecondsCsv(*result), err);
    if (!args.histogram.empty()) {
        written &= WriteFile(args.histogram, FormatPercentilesCsv(*result), err);
    }
    if (result->requests > 0 && result->Answered() == 0) {
        err << "orderflowctl load: no request was answered\n";
        return kExitFailure;
    }
    return written ? kExitOk : kExitFailure;
}

CLI::App* AddLoadCommand(CLI::App& app, std::function<int()>& command) {
    auto args = std::make_shared<LoadCommandArgs>();
    CLI::App* load = app.add_subcommand(
        "load",
        "HTTP load: closed loop (--concurrency) or open loop (--rate, latency from each "
        "request's scheduled send time); prints latency percentiles, throughput, errors");
    load->add_option("--url", args->url, "target, e.g. http://127.0.0.1:8000/orders")->required();
    auto* rate = load->add_option("--rate", args->rate, "open loop: requests per second");
    auto* concurrency = load->add_option("--concurrency,-c", args->concurrency,
                                         "closed loop: connections, one request each (16)");
    rate->excludes(concurrency);
    load->add_option("--duration,-d", args->duration,
                     "measured time: 30, 30s, 500ms, 2m (required unless --requests)");
    load->add_option("--requests,-n", args->requests, "stop after this many requests");
    load->add_option("--warmup", args->warmup, "load before measuring, same units (0)");
    load->add_option("--method,-X", args->method, "HTTP method (POST)");
    auto* body =
        load->add_option("--body", args->body,
                         "request body; {{seq}} becomes a per-request counter (default for POST: "
                         R"({"user_id":"load","items":{"burger":1}}))");
    load->add_option("--body-file", args->body_file, "request body from a file")->excludes(body);
    load->add_option("--header,-H", args->headers, "extra header 'Name: value' (repeatable)");
    load->add_option("--connections", args->connections, "open loop: connection limit (256)");
    load->add_option("--timeout", args->timeout_ms, "per request, in ms from sending (30000)");
    load->add_option("--threads", args->threads, "I/O threads, one io_context each (1)");
    load->add_option("--seq-start", args->seq_start, "first {{seq}} value (1)");
    load->add_flag("--json", args->json, "print the summary as one JSON object");
    load->add_option("--csv", args->csv,
                     "per-second rows: second,requests,successes,errors,p50_ms,p99_ms,status_503");
    load->add_option("--histogram", args->histogram, "percentile,latency_ms rows");
    load->callback([args, &command] {
        command = [args] { return RunLoadCommand(*args, std::cout, std::cerr); };
    });
    return load;
}

}  // namespace orderflow::load
