// `orderflowctl status [--watch] [--json]`: the state of the three work queues.
//
// Where each figure comes from: the management API's numbers lag by up to one statistics
// emission interval (5 s by default), so the depths an operator acts on (ready, consumers,
// DLQ and delay-queue depths) come from AMQP passive declares, which are exact and
// immediate; unacked counts and the counters the rates are computed from exist only in the
// management API (GET /api/queues/<vhost>), and are taken from there. The net rate and the
// time to drain follow the exact ready depths of successive samples (DepthTrend), as the
// management counters lag by a statistics interval or more on a busy broker. Without the
// management API status still answers with the depths, and shows unacked and the rates as
// unknown with a warning. The stream's message count comes from its first and last offsets,
// read from the stream itself (stream_offsets.hpp): RabbitMQ 3.10's own count of a stream
// can be stale for long. Output: the table on a terminal, key=value lines otherwise, JSON
// with --json; --watch redraws the table in place (ANSI) or appends lines.
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <map>
#include <thread>

#include "broker/topology.hpp"
#include "ctl/commands.hpp"
#include "ctl/mgmt_api.hpp"
#include "ctl/status.hpp"
#include "ctl/status_sampler.hpp"

namespace orderflow::ctl {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnStopSignal(int) { g_stop = 1; }

// Sleeps until `until` in short steps so Ctrl-C is handled promptly.
void SleepUntil(std::chrono::steady_clock::time_point until) {
    while (!g_stop && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
    }
}

int Watch(StatusSampler& sampler, const GlobalOptions& global, const StatusOptions& options) {
    struct sigaction action {};
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    const bool terminal = ::isatty(STDOUT_FILENO) == 1;
    const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(options.interval_seconds));
    const auto title = fmt::format("orderflowctl status --watch  {}  every {}s, Ctrl-C quits",
                                   RedactUrl(global.amqp_url), options.interval_seconds);
    int64_t scale = 0;  // the largest backlog seen: bars compare with the peak
    StatusSnapshot last;
    if (terminal) fmt::print("\x1b[?25l\x1b[2J");  // hide the cursor, clear once
    auto next = std::chrono::steady_clock::now();
    while (!g_stop) {
        auto sample = sampler.Sample();
        if (g_stop) break;
        if (sample) {
            last = std::move(*sample);
        } else {
            // Keep watching through a broker restart: show the last figures and the error.
            last.at = std::chrono::system_clock::now();
            last.warnings = {sample.error()};
        }
        for (const auto& queue : last.queues) scale = std::max(scale, queue.Backlog());
        if (terminal) {
            fmt::print("\x1b[H{}\x1b[J", RenderFrame(last, scale, title));
        } else {
            fmt::print("{}", RenderLines(last));
        }
        std::fflush(stdout);
        next += interval;
        SleepUntil(next);
    }
    if (terminal) fmt::print("\x1b[?25h\n");
    std::fflush(stdout);
    return kExitOk;
}

}  // namespace

int RunStatus(const GlobalOptions& global, const StatusOptions& options) {
    auto mgmt = ParseHttpUrl(global.mgmt_url);
    if (!mgmt) {
        fmt::print(stderr, "orderflowctl: --mgmt-url: {}\n", mgmt.error());
        return kExitUsage;
    }
    mgmt->ca_file = global.amqp_ca_file;  // one CA for the broker's amqps and https
    StatusSampler sampler(ConnectionFor(global, "status"), std::move(*mgmt),
                          VhostOf(global.amqp_url), /*read_stream=*/true);
    if (options.watch && !options.json) return Watch(sampler, global, options);
    auto snapshot = sampler.Sample();
    if (!snapshot) return Fail(snapshot.error());
    // A terminal gets the table; a pipe or a file gets one key=value line per queue.
    if (options.json) {
        fmt::print("{}", RenderJson(*snapshot));
    } else if (::isatty(STDOUT_FILENO) == 1) {
        fmt::print("{}", RenderTable(*snapshot));
    } else {
        fmt::print("{}", RenderLines(*snapshot));
    }
    for (const auto& warning : snapshot->warnings) {
        fmt::print(stderr, "orderflowctl: warning: {}\n", warning);
    }
    return kExitOk;
}

}  // namespace orderflow::ctl
