// Dead-letter browse, replay and purge; see dlq_ops.hpp.
#include "ctl/dlq_ops.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "broker/topology.hpp"

namespace orderflow::ctl {

std::expected<QueuePair, std::string> ResolveContractQueue(std::string_view name) {
    auto queues = ResolveQueue(name);
    if (!queues) return queues;
    const auto work = broker::WorkQueues();
    if (std::ranges::find(work, queues->work) != work.end()) return queues;
    std::string known;
    for (const auto& queue : work) known += (known.empty() ? "" : ", ") + queue.value;
    return std::unexpected(
        fmt::format("unknown queue '{}': one of {} (or its .dlq name)", name, known));
}

std::expected<void, std::string> CheckQueues(broker::Client& client, const QueuePair& queues,
                                             bool need_work_queue) {
    for (const auto* queue : {&queues.dlq, need_work_queue ? &queues.work : nullptr}) {
        if (queue == nullptr) continue;
        auto info = client.Inspect(*queue);
        if (!info) return std::unexpected(fmt::format("queue {}: {}", queue->value, info.error()));
        if (!*info) return std::unexpected(fmt::format("queue {} does not exist", queue->value));
    }
    return {};
}

std::expected<std::vector<broker::Delivery>, std::string> BrowseDeadLetters(
    broker::Client& client, const broker::QueueName& dlq, size_t limit) {
    std::vector<broker::Delivery> letters;
    while (letters.size() < limit) {
        auto got = client.Get(dlq);
        // Whatever we hold goes back to the DLQ when the connection closes.
        if (!got)
            return std::unexpected(fmt::format("basic.get on {}: {}", dlq.value, got.error()));
        if (!*got) break;
        letters.push_back(std::move(**got));
    }
    if (!letters.empty()) {
        // One nack(multiple, requeue) returns every held message; tags only grow on a channel.
        if (auto back = client.Nack(letters.back().delivery_tag, true, true); !back) {
            return std::unexpected(
                fmt::format("requeue on {}: {} (the broker requeues them when the "
                            "connection closes)",
                            dlq.value, back.error()));
        }
    }
    return letters;
}

std::string AuditQuoted(std::string_view text) {
    if (!text.empty() && text.find_first_of(" \"=\\") == std::string_view::npos) {
        return std::string(text);
    }
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out + "\"";
}

std::string AuditId(const broker::Delivery& delivery) {
    const auto& id = delivery.properties.message_id;
    return id.empty() ? "-" : AuditQuoted(id);
}

std::string ReplayResult::Summary(const QueuePair& queues) const {
    return fmt::format(
        "summary queue={} dlq={} examined={} replayed={} skipped={} failed={} not_selected={}",
        queues.work.value, queues.dlq.value, examined, replayed, skipped, failed, NotSelected());
}

ReplayResult ReplayDeadLetters(broker::Client& client, const QueuePair& queues,
                               const ReplayRequest& request,
                               const std::function<void(const std::string&)>& audit) {
    ReplayResult result;
    // Only the dead letters present now: a copy that fails again while we walk comes back
    // to the DLQ behind them, and must not be replayed a second time by this same run.
    auto depth = client.Inspect(queues.dlq);
    if (!depth || !*depth) {
        result.error = fmt::format("queue {} vanished", queues.dlq.value);
        return result;
    }
    const size_t present = (**depth).messages;
    const auto& q = queues.work.value;
    const auto stopped = [&] { return request.stop != nullptr && *request.stop != 0; };

    std::set<uint64_t> held;         // fetched, not settled: requeued at the end
    std::set<std::string> this_run;  // message ids replayed by this run
    size_t confirmed = 0;
    while (result.examined < present && (!request.limit || result.replayed < *request.limit) &&
           !stopped()) {
        auto got = client.Get(queues.dlq);
        if (!got) {
            result.error = fmt::format("basic.get on {}: {}", queues.dlq.value, got.error());
            break;
        }
        if (!*got) break;
        const auto letter = std::move(**got);
        ++result.examined;
        held.insert(letter.delivery_tag);
        if (!Selected(request.selection, letter)) continue;
        const auto& id = letter.properties.message_id;
        if (!id.empty() && this_run.contains(id)) continue;  // its copy failed again already

        const auto kind = KindOf(letter.properties);
        const int count = ReplayCountOf(letter.properties);
        if (count >= kMaxReplays && !request.force) {
            ++result.skipped;
            audit(
                fmt::format("skipped message_id={} queue={} kind={} replay_count={} "
                            "reason=\"replayed {} times already; --force replays it\"",
                            AuditId(letter), q, kind, count, count));
            continue;
        }
        // 1. The copy, confirmed by the broker (persisted in the work queue)...
        const auto status = client.Publish(ReplayCopy(letter, queues.work));
        if (status != broker::PublishStatus::kConfirmed) {
            ++result.failed;
            audit(
                fmt::format("failed message_id={} queue={} kind={} reason=\"publish {}; left in "
                            "the DLQ\"",
                            AuditId(letter), q, kind, broker::StatusName(status)));
            result.error = fmt::format("publish to {} was not confirmed ({}); stopped", q,
                                       broker::StatusName(status));
            break;
        }
        if (request.abort_after && ++confirmed == static_cast<size_t>(*request.abort_after)) {
            std::fflush(stdout);
            std::raise(SIGKILL);  // test only: a crash between the confirm and the ack
        }
        // 2. ...then the original leaves the DLQ. Dying in between leaves both: a duplicate
        // that the consumer drops by message_id, never a loss.
        if (auto acked = client.Ack(letter.delivery_tag); !acked) {
            ++result.failed;
            audit(
                fmt::format("duplicated message_id={} queue={} kind={} reason=\"copy confirmed, "
                            "ack failed: original still in the DLQ\"",
                            AuditId(letter), q, kind));
            result.error = fmt::format("ack on {}: {}", queues.dlq.value, acked.error());
            break;
        }
        held.erase(letter.delivery_tag);
        if (!id.empty()) this_run.insert(id);
        ++result.replayed;
        audit(fmt::format("replayed message_id={} queue={} kind={} replay_count={}{}",
                          AuditId(letter), q, kind, count + 1,
                          count >= kMaxReplays ? " forced=true" : ""));
    }
    if (!held.empty()) {
        // After an error this may fail too: closing the connection requeues them anyway.
        if (auto back = client.Nack(*held.rbegin(), true, true); !back && result.error.empty()) {
            result.error = fmt::format(
                "requeue on {}: {} (the broker requeues them when the connection "
                "closes)",
                queues.dlq.value, back.error());
        }
    }
    if (stopped() && result.error.empty()) result.error = "interrupted; the rest stays in the DLQ";
    result.no_match = request.selection.message_id && result.replayed + result.skipped == 0;
    return result;
}

std::expected<uint32_t, std::string> PurgeDeadLetters(broker::Client& client,
                                                      const QueuePair& queues) {
    auto purged = client.Purge(queues.dlq);
    if (!purged)
        return std::unexpected(fmt::format("purge {}: {}", queues.dlq.value, purged.error()));
    return *purged;
}

}  // namespace orderflow::ctl
