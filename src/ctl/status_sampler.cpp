// Samples of the work queues; see status_sampler.hpp.
#include "ctl/status_sampler.hpp"

#include <fmt/format.h>

#include "broker/topology.hpp"
#include "ctl/common.hpp"
#include "ctl/stream_offsets.hpp"

namespace orderflow::ctl {

StatusSampler::StatusSampler(broker::ConnectionOptions connection, HttpUrl mgmt, std::string vhost,
                             bool read_stream)
    : connection_(std::move(connection)),
      mgmt_(std::move(mgmt)),
      vhost_(std::move(vhost)),
      read_stream_(read_stream) {}

std::expected<StatusSnapshot, std::string> StatusSampler::Sample() {
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
        auto client = broker::Client::Connect(connection_);
        if (!client) {
            return std::unexpected(fmt::format("cannot connect to {}: {}",
                                               RedactUrl(connection_.url), client.error()));
        }
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
        std::optional<int64_t> record_ready;
        if (const auto it = by_name.find(work.value); it != by_name.end()) {
            status.unacked = it->second.unacked;
            status.rates = trackers_[work.value].Update(now, it->second.counters, it->second.rates);
            record_ready = it->second.ready;
        }
        if (status.exists) status.net_rate = trends_[work.value].Update(now, status.ready);
        ApplyExactDepth(status, record_ready);
        status.eta_seconds = EstimateEta(status);
        snapshot.queues.push_back(std::move(status));
    }
    if (const auto it = by_name.find(broker::kEventStream.value); it != by_name.end()) {
        snapshot.stream.broker_messages = it->second.messages;
    }
    if (read_stream_) {
        if (auto offsets = ReadStreamOffsets(connection_, broker::kEventStream)) {
            snapshot.stream.read = true;
            snapshot.stream.first_offset = offsets->first;
            snapshot.stream.last_offset = offsets->last;
        } else {
            snapshot.warnings.push_back(
                fmt::format("stream {} not read ({}): its count is the management API's, which "
                            "RabbitMQ refreshes only now and then",
                            broker::kEventStream.value, offsets.error()));
        }
    }
    return snapshot;
}

// GET /api/queues/<vhost>: every queue of the vhost with its counters.
std::expected<std::vector<MgmtQueue>, std::string> StatusSampler::ListQueues() {
    auto body = HttpGet(mgmt_, "/api/queues/" + PercentEncode(vhost_) +
                                   "?columns=name,messages,messages_ready,"
                                   "messages_unacknowledged,consumers,message_stats");
    if (!body) return std::unexpected(body.error());
    auto listed = ParseMgmtQueues(*body);
    if (!listed) {
        return std::unexpected(fmt::format(
            "{}: {}", fmt::format("http://{}:{}", mgmt_.host, mgmt_.port), listed.error()));
    }
    return listed;
}

// Messages waiting in the delay queues Q.retry.<level>. Their number is the services'
// setting: the management API lists what exists; without it, levels are probed in order
// until one is missing.
std::expected<int64_t, std::string> StatusSampler::RetryDepth(
    const broker::QueueName& work, const std::map<std::string, MgmtQueue>& by_name, bool listed) {
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

std::expected<std::optional<broker::QueueInfo>, std::string> StatusSampler::Depth(
    const broker::QueueName& queue) {
    auto info = client_->Inspect(queue);
    if (!info) {
        client_.reset();  // reconnect on the next sample
        return std::unexpected(fmt::format("queue {}: {}", queue.value, info.error()));
    }
    return *info;
}

}  // namespace orderflow::ctl
