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
// unknown with a warning. Output: the table on a terminal, key=value lines otherwise, JSON
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

namespace orderflow::ctl {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnStopSignal(int) { g_stop = 1; }

// Owns the AMQP connection (reopened after a failure) and the rate history per queue.
class Sampler final {
  public:
    Sampler(const GlobalOptions& global, HttpUrl mgmt)
        : global_(global), mgmt_(std::move(mgmt)), vhost_(VhostOf(global.amqp_url)) {}

    std::expected<StatusSnapshot, std::string> Sample() {
        StatusSnapshot snapshot;
        // Without the management API the depths still come from AMQP; unacked and the rates
        // are then unknown, and the snapshot says why.
        std::map<std::string, MgmtQueue> by_name;
        bool detailed = false;
        auto listed = ListQueues();
        if (listed) {
            for (auto& queue : *listed) by_name[queue.name] = std::move(queue);
            detailed = true;
        } else {
            snapshot.warnings.push_back(listed.error() + " (unacked and rates unknown)");
        }

        if (!client_) {
            auto client = Connect(global_, "status");
            if (!client) return std::unexpected(client.error());
            client_.emplace(std::move(*client));
        }
        snapshot.at = std::chrono::system_clock::now();
        const auto now = std::chrono::steady_clock::now();
        for (const auto& work : broker::WorkQueues()) {
            QueueStatus status;
            status.name = work.value;
            status.detailed = detailed;
            auto depth = Depth(work);
            if (!depth) return std::unexpected(depth.error());
            status.exists = depth->has_value();
            if (*depth) {
                status.ready = (*depth)->messages;
                status.consumers = (*depth)->consumers;
            }
            auto dlq = Depth(broker::DeadLetterQueue(work));
            if (!dlq) return std::unexpected(dlq.error());
            status.dlq_ready = *dlq ? (**dlq).messages : 0;
            auto retry = RetryDepth(work, by_name, detailed);
            if (!retry) return std::unexpected(retry.error());
            status.retry_ready = *retry;
            if (const auto it = by_name.find(work.value); it != by_name.end()) {
                status.unacked = it->second.unacked;
                status.rates =
                    trackers_[work.value].Update(now, it->second.counters, it->second.rates);
            }
            if (status.exists) status.net_rate = trends_[work.value].Update(now, status.ready);
            status.eta_seconds = EstimateEta(status);
            snapshot.queues.push_back(std::move(status));
        }
        if (const auto it = by_name.find(broker::kEventStream.value); it != by_name.end()) {
            snapshot.stream_messages = it->second.messages;
        }
        return snapshot;
    }

  private:
    // GET /api/queues/<vhost>: every queue of the vhost with its counters.
    std::expected<std::vector<MgmtQueue>, std::string> ListQueues() {
        auto body = HttpGet(mgmt_, "/api/queues/" + PercentEncode(vhost_) +
                                       "?columns=name,messages,messages_ready,"
                                       "messages_unacknowledged,consumers,message_stats");
        if (!body) return std::unexpected(body.error());
        auto listed = ParseMgmtQueues(*body);
        if (!listed) {
            return std::unexpected(
                fmt::format("{}: {}", RedactUrl(global_.mgmt_url), listed.error()));
        }
        return listed;
    }

    // Messages waiting in the delay queues Q.retry.<level>. Their number is the services'
    // setting: the management API lists what exists; without it, levels are probed in order
    // until one is missing.
    std::expected<int64_t, std::string> RetryDepth(const broker::QueueName& work,
                                                   const std::map<std::string, MgmtQueue>& by_name,
                                                   bool listed) {
        int64_t total = 0;
        if (listed) {
            const auto prefix = work.value + ".retry.";
            for (const auto& [name, queue] : by_name) {
                if (!name.starts_with(prefix)) continue;
                auto depth = Depth(broker::QueueName{name});
                if (!depth) return std::unexpected(depth.error());
                total += *depth ? (**depth).messages : 0;
            }
            return total;
        }
        for (int level = 1; level <= kMaxProbedRetryLevels; ++level) {
            auto depth = Depth(broker::RetryQueue(work, level));
            if (!depth) return std::unexpected(depth.error());
            if (!*depth) break;
            total += (**depth).messages;
        }
        return total;
    }

    static constexpr int kMaxProbedRetryLevels = 20;

    std::expected<std::optional<broker::QueueInfo>, std::string> Depth(
        const broker::QueueName& queue) {
        auto info = client_->Inspect(queue);
        if (!info) {
            client_.reset();  // reconnect on the next sample
            return std::unexpected(fmt::format("queue {}: {}", queue.value, info.error()));
        }
        return *info;
    }

    const GlobalOptions& global_;
    HttpUrl mgmt_;
    std::string vhost_;
    std::optional<broker::Client> client_;
    std::map<std::string, RateTracker> trackers_;
    std::map<std::string, DepthTrend> trends_;
};

// Sleeps until `until` in short steps so Ctrl-C is handled promptly.
void SleepUntil(std::chrono::steady_clock::time_point until) {
    while (!g_stop && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
    }
}

int Watch(Sampler& sampler, const GlobalOptions& global, const StatusOptions& options) {
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
    Sampler sampler(global, std::move(*mgmt));
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
