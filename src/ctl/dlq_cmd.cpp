// `orderflowctl dlq list|show|replay|purge`: browse and replay dead letters without ever
// losing one.
//
// Browsing uses basic.get without ack and holds every fetched message until the end: a
// message we hold is not delivered again (so a walk through the DLQ sees each one once) and
// is not lost if we die (closing the connection returns it to the DLQ). Replay publishes
// the copy with confirm and acks the original only after the confirm, so an interruption at
// any point leaves the message in the work queue, in the DLQ, or in both (consumers dedupe
// by message_id). A replay walks only the dead letters present when it starts, so a copy
// that fails again and comes back to the DLQ meanwhile is not replayed twice by one run.
#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "broker/topology.hpp"
#include "ctl/commands.hpp"

namespace orderflow::ctl {
namespace {

constexpr size_t kDefaultShowLimit = 10;
// Test only: kill the process right after the Nth confirmed replay, before its ack, to
// prove that an interrupted replay loses nothing (test/integration/ctl_test.cpp).
constexpr const char* kTestAbortAfterEnv = "ORDERFLOW_CTL_TEST_ABORT_AFTER";

std::string Quoted(std::string_view text) {
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

std::string IdOf(const broker::Delivery& delivery) {
    const auto& id = delivery.properties.message_id;
    return id.empty() ? "-" : Quoted(id);
}

void Audit(const std::string& line) {
    // One line per decision, flushed at once: the audit trail must survive a crash.
    fmt::print("{} at={}\n", line, events::FormatTime(std::chrono::system_clock::now()));
    std::fflush(stdout);
}

// Opens the connection and makes sure the DLQ (and optionally the work queue) exist.
std::expected<broker::Client, std::string> Open(const GlobalOptions& global,
                                                const QueuePair& queues, std::string_view command,
                                                bool need_work_queue) {
    auto client = Connect(global, command);
    if (!client) return client;
    for (const auto* queue : {&queues.dlq, need_work_queue ? &queues.work : nullptr}) {
        if (queue == nullptr) continue;
        auto info = client->Inspect(*queue);
        if (!info) return std::unexpected(fmt::format("queue {}: {}", queue->value, info.error()));
        if (!*info) return std::unexpected(fmt::format("queue {} does not exist", queue->value));
    }
    return client;
}

void WriteShowJson(const QueuePair& queues, const std::vector<broker::Delivery>& letters) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.StartObject();
    writer.Key("queue");
    writer.String(queues.work.value.c_str());
    writer.Key("dlq");
    writer.String(queues.dlq.value.c_str());
    writer.Key("messages");
    writer.StartArray();
    for (const auto& letter : letters) {
        const auto& properties = letter.properties;
        writer.StartObject();
        for (const auto& [key, value] :
             {std::pair{"message_id", &properties.message_id}, std::pair{"type", &properties.type},
              std::pair{"correlation_id", &properties.correlation_id}}) {
            writer.Key(key);
            writer.String(value->c_str());
        }
        writer.Key("kind");
        writer.String(KindOf(properties).c_str());
        writer.Key("headers");
        writer.StartObject();
        for (const auto& name : RecordHeaders()) {
            const auto it = properties.headers.find(name);
            if (it == properties.headers.end()) continue;
            writer.Key(name.c_str());
            if (const auto* number = std::get_if<int64_t>(&it->second.value)) {
                writer.Int64(*number);
            } else {
                writer.String(FieldText(it->second).c_str());
            }
        }
        writer.EndObject();
        writer.Key("body_bytes");
        writer.Uint64(letter.body.size());
        writer.Key("body_preview");
        writer.String(BodyPreview(letter.body).c_str());
        writer.EndObject();
    }
    writer.EndArray();
    writer.EndObject();
    fmt::print("{}\n", std::string_view(buffer.GetString(), buffer.GetSize()));
}

void WriteShowText(const QueuePair& queues, const std::vector<broker::Delivery>& letters) {
    fmt::print("{}: showing {} dead letter(s), oldest first (browsed; nothing removed)\n",
               queues.dlq.value, letters.size());
    for (size_t i = 0; i < letters.size(); ++i) {
        const auto& properties = letters[i].properties;
        fmt::print("\n[{}] message_id={} type={} kind={}\n", i + 1, IdOf(letters[i]),
                   properties.type.empty() ? "-" : properties.type, KindOf(properties));
        for (const auto& name : RecordHeaders()) {
            const auto it = properties.headers.find(name);
            if (it != properties.headers.end()) {
                fmt::print("    {}: {}\n", name, BodyPreview(FieldText(it->second), 1000));
            }
        }
        fmt::print("    body ({} bytes): {}\n", letters[i].body.size(),
                   BodyPreview(letters[i].body));
    }
}

volatile std::sig_atomic_t g_stop = 0;
void OnStopSignal(int) { g_stop = 1; }

// Ctrl-C during a replay finishes the message in hand (its copy confirmed and its original
// acked, or neither) and stops there, so the audit trail says exactly what happened.
void InstallStopHandler() {
    struct sigaction action {};
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
}

// QUEUE must be one of the contract's work queues (or its .dlq): a typo is a usage error,
// not a "queue does not exist" at run time.
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

int Usage(std::string_view message) {
    fmt::print(stderr, "orderflowctl: {}\n", message);
    return kExitUsage;
}

std::optional<int> TestAbortAfter() {
    const char* value = std::getenv(kTestAbortAfterEnv);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::atoi(value);
}

}  // namespace

int RunDlqList(const GlobalOptions& global, bool json) {
    auto client = Connect(global, "dlq list");
    if (!client) return Fail(client.error());
    struct Row {
        broker::QueueName work;
        broker::QueueName dlq;
        std::optional<uint32_t> messages;  // nullopt: the DLQ does not exist
    };
    std::vector<Row> rows;
    for (const auto& work : broker::WorkQueues()) {
        const auto dlq = broker::DeadLetterQueue(work);
        auto info = client->Inspect(dlq);
        if (!info) return Fail(fmt::format("queue {}: {}", dlq.value, info.error()));
        rows.push_back({work, dlq, *info ? std::optional((*info)->messages) : std::nullopt});
    }
    const bool missing = std::ranges::any_of(rows, [](const Row& row) { return !row.messages; });
    if (json) {
        std::string out = R"({"dlqs":[)";
        for (size_t i = 0; i < rows.size(); ++i) {
            out += fmt::format(R"({}{{"queue":"{}","dlq":"{}","messages":{}}})", i ? "," : "",
                               rows[i].work.value, rows[i].dlq.value,
                               rows[i].messages ? std::to_string(*rows[i].messages) : "null");
        }
        fmt::print("{}]}}\n", out);
    } else {
        fmt::print("{:<40} {:>8}\n", "DLQ", "MESSAGES");
        for (const auto& row : rows) {
            fmt::print("{:<40} {:>8}\n", row.dlq.value,
                       row.messages ? std::to_string(*row.messages) : "missing");
        }
    }
    if (missing)
        fmt::print(stderr,
                   "orderflowctl: some DLQs are missing: run `orderflowctl topology declare`\n");
    return missing ? kExitFailure : kExitOk;
}

int RunDlqShow(const GlobalOptions& global, const DlqOptions& options) {
    const auto queues = ResolveContractQueue(options.queue);
    if (!queues) return Usage(queues.error());
    auto client = Open(global, *queues, "dlq show", false);
    if (!client) return Fail(client.error());
    const size_t limit = options.limit.value_or(kDefaultShowLimit);
    std::vector<broker::Delivery> letters;
    while (letters.size() < limit) {
        auto got = client->Get(queues->dlq);
        // Whatever we hold goes back to the DLQ when the connection closes.
        if (!got) return Fail(fmt::format("basic.get on {}: {}", queues->dlq.value, got.error()));
        if (!*got) break;
        letters.push_back(std::move(**got));
    }
    if (!letters.empty()) {
        // One nack(multiple, requeue) returns every held message; tags only grow on a channel.
        if (auto back = client->Nack(letters.back().delivery_tag, true, true); !back) {
            return Fail(
                fmt::format("requeue on {}: {} (the broker requeues them when the "
                            "connection closes)",
                            queues->dlq.value, back.error()));
        }
    }
    if (options.json) {
        WriteShowJson(*queues, letters);
    } else {
        WriteShowText(*queues, letters);
    }
    return kExitOk;
}

int RunDlqReplay(const GlobalOptions& global, const DlqOptions& options) {
    const auto queues = ResolveContractQueue(options.queue);
    if (!queues) return Usage(queues.error());
    // The work queue must exist: the copy goes there through the default exchange.
    auto client = Open(global, *queues, "dlq replay", true);
    if (!client) return Fail(client.error());
    // Only the dead letters present now: a copy that fails again while we walk comes back
    // to the DLQ behind them, and must not be replayed a second time by this same run.
    auto depth = client->Inspect(queues->dlq);
    if (!depth || !*depth) return Fail(fmt::format("queue {} vanished", queues->dlq.value));
    const size_t present = (**depth).messages;
    const auto abort_after = TestAbortAfter();
    const auto& q = queues->work.value;
    InstallStopHandler();

    std::set<uint64_t> held;         // fetched, not settled: requeued at the end
    std::set<std::string> this_run;  // message ids replayed by this run
    size_t examined = 0, replayed = 0, skipped = 0, failed = 0, confirmed = 0;
    std::string error;
    while (examined < present && (!options.limit || replayed < *options.limit) && !g_stop) {
        auto got = client->Get(queues->dlq);
        if (!got) {
            error = fmt::format("basic.get on {}: {}", queues->dlq.value, got.error());
            break;
        }
        if (!*got) break;
        const auto letter = std::move(**got);
        ++examined;
        held.insert(letter.delivery_tag);
        if (!Selected(options.selection, letter)) continue;
        const auto& id = letter.properties.message_id;
        if (!id.empty() && this_run.contains(id)) continue;  // its copy failed again already

        const auto kind = KindOf(letter.properties);
        const int count = ReplayCountOf(letter.properties);
        if (count >= kMaxReplays && !options.force) {
            ++skipped;
            Audit(
                fmt::format("skipped message_id={} queue={} kind={} replay_count={} "
                            "reason=\"replayed {} times already; --force replays it\"",
                            IdOf(letter), q, kind, count, count));
            continue;
        }
        // 1. The copy, confirmed by the broker (persisted in the work queue)...
        const auto status = client->Publish(ReplayCopy(letter, queues->work));
        if (status != broker::PublishStatus::kConfirmed) {
            ++failed;
            Audit(
                fmt::format("failed message_id={} queue={} kind={} reason=\"publish {}; left in "
                            "the DLQ\"",
                            IdOf(letter), q, kind, broker::StatusName(status)));
            error = fmt::format("publish to {} was not confirmed ({}); stopped", q,
                                broker::StatusName(status));
            break;
        }
        if (abort_after && ++confirmed == static_cast<size_t>(*abort_after)) {
            std::fflush(stdout);
            std::raise(SIGKILL);  // test only: a crash between the confirm and the ack
        }
        // 2. ...then the original leaves the DLQ. Dying in between leaves both: a duplicate
        // that the consumer drops by message_id, never a loss.
        if (auto acked = client->Ack(letter.delivery_tag); !acked) {
            ++failed;
            Audit(
                fmt::format("duplicated message_id={} queue={} kind={} reason=\"copy confirmed, "
                            "ack failed: original still in the DLQ\"",
                            IdOf(letter), q, kind));
            error = fmt::format("ack on {}: {}", queues->dlq.value, acked.error());
            break;
        }
        held.erase(letter.delivery_tag);
        if (!id.empty()) this_run.insert(id);
        ++replayed;
        Audit(fmt::format("replayed message_id={} queue={} kind={} replay_count={}{}", IdOf(letter),
                          q, kind, count + 1, count >= kMaxReplays ? " forced=true" : ""));
    }
    if (!held.empty()) {
        // After an error this may fail too: closing the connection requeues them anyway.
        if (auto back = client->Nack(*held.rbegin(), true, true); !back && error.empty()) {
            error = fmt::format(
                "requeue on {}: {} (the broker requeues them when the connection "
                "closes)",
                queues->dlq.value, back.error());
        }
    }
    if (g_stop && error.empty()) error = "interrupted; the rest stays in the DLQ";
    fmt::print(
        "summary queue={} dlq={} examined={} replayed={} skipped={} failed={} "
        "not_selected={}\n",
        q, queues->dlq.value, examined, replayed, skipped, failed,
        examined - replayed - skipped - failed);
    std::fflush(stdout);
    if (!error.empty()) return Fail(error);
    if (options.selection.message_id && replayed + skipped == 0) {
        return Fail(fmt::format("no dead letter with message_id {} in {}",
                                *options.selection.message_id, queues->dlq.value));
    }
    return failed > 0 ? kExitFailure : kExitOk;
}

int RunDlqPurge(const GlobalOptions& global, const DlqOptions& options) {
    const auto queues = ResolveContractQueue(options.queue);
    if (!queues) return Usage(queues.error());
    if (!options.yes) {
        fmt::print(stderr,
                   "orderflowctl: refusing to purge {} without --yes (dead letters are "
                   "deleted for good)\n",
                   queues->dlq.value);
        return kExitUsage;
    }
    auto client = Open(global, *queues, "dlq purge", false);
    if (!client) return Fail(client.error());
    auto purged = client->Purge(queues->dlq);
    if (!purged) return Fail(fmt::format("purge {}: {}", queues->dlq.value, purged.error()));
    fmt::print("purged {} message(s) from {}\n", *purged, queues->dlq.value);
    return kExitOk;
}

}  // namespace orderflow::ctl
