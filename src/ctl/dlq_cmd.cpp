// `orderflowctl dlq list|show|replay|purge`: browse and replay dead letters without ever
// losing one. The operations themselves live in dlq_ops.hpp (the console uses them too);
// this file parses nothing and decides nothing: it connects, calls them and prints.
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
#include "ctl/dlq_ops.hpp"

namespace orderflow::ctl {
namespace {

constexpr size_t kDefaultShowLimit = 10;
// Test only: kill the process right after the Nth confirmed replay, before its ack, to
// prove that an interrupted replay loses nothing (test/integration/ctl_test.cpp).
constexpr const char* kTestAbortAfterEnv = "ORDERFLOW_CTL_TEST_ABORT_AFTER";

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
    if (auto ok = CheckQueues(*client, queues, need_work_queue); !ok) {
        return std::unexpected(ok.error());
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
        fmt::print("\n[{}] message_id={} type={} kind={}\n", i + 1, AuditId(letters[i]),
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
    auto letters =
        BrowseDeadLetters(*client, queues->dlq, options.limit.value_or(kDefaultShowLimit));
    if (!letters) return Fail(letters.error());
    if (options.json) {
        WriteShowJson(*queues, *letters);
    } else {
        WriteShowText(*queues, *letters);
    }
    return kExitOk;
}

int RunDlqReplay(const GlobalOptions& global, const DlqOptions& options) {
    const auto queues = ResolveContractQueue(options.queue);
    if (!queues) return Usage(queues.error());
    // The work queue must exist: the copy goes there through the default exchange.
    auto client = Open(global, *queues, "dlq replay", true);
    if (!client) return Fail(client.error());
    InstallStopHandler();
    ReplayRequest request;
    request.selection = options.selection;
    request.limit = options.limit;
    request.force = options.force;
    request.abort_after = TestAbortAfter();
    request.stop = &g_stop;
    const auto result = ReplayDeadLetters(*client, *queues, request, Audit);
    fmt::print("{}\n", result.Summary(*queues));
    std::fflush(stdout);
    if (!result.error.empty()) return Fail(result.error);
    if (result.no_match) {
        return Fail(fmt::format("no dead letter with message_id {} in {}",
                                *options.selection.message_id, queues->dlq.value));
    }
    return result.failed > 0 ? kExitFailure : kExitOk;
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
    auto purged = PurgeDeadLetters(*client, *queues);
    if (!purged) return Fail(purged.error());
    fmt::print("purged {} message(s) from {}\n", *purged, queues->dlq.value);
    return kExitOk;
}

}  // namespace orderflow::ctl
