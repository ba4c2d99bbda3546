// Status model and renderings; see status.hpp.
#include "ctl/status.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>

namespace orderflow::ctl {
namespace {

constexpr int kBarWidth = 40;
constexpr const char* kEraseLine = "\x1b[K";

int64_t IntMember(const rapidjson::Value& object, const char* name) {
    const auto it = object.FindMember(name);
    if (it == object.MemberEnd() || !it->value.IsNumber()) return 0;
    return it->value.IsInt64() ? it->value.GetInt64() : static_cast<int64_t>(it->value.GetDouble());
}

double RateMember(const rapidjson::Value& stats, const char* details) {
    const auto it = stats.FindMember(details);
    if (it == stats.MemberEnd() || !it->value.IsObject()) return 0;
    const auto rate = it->value.FindMember("rate");
    return rate != it->value.MemberEnd() && rate->value.IsNumber() ? rate->value.GetDouble() : 0;
}

// Members whose unknown values are written as null.
void OptionalInts(rapidjson::Writer<rapidjson::StringBuffer>& writer,
                  std::initializer_list<std::pair<const char*, std::optional<int64_t>>> members) {
    for (const auto& [key, value] : members) {
        writer.Key(key);
        value ? writer.Int64(*value) : writer.Null();
    }
}

std::string Header() {
    return fmt::format("{:<32} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8} {:>7} {:>7} {:>7}", "QUEUE",
                       "READY", "UNACKED", "CONSUMERS", "IN/s", "OUT/s", "NET/s", "DLQ", "RETRY",
                       "ETA");
}

// The management API's figures, or "-" when it did not answer.
// A '?' marks a count whose management record lags the exact ready depth (see the legend).
std::string Unacked(const QueueStatus& queue) {
    if (!queue.detailed) return "-";
    return std::to_string(queue.unacked) + (queue.unacked_stale ? "?" : "");
}
std::string Rate(const QueueStatus& queue, double per_second) {
    return queue.detailed ? FormatRate(per_second) : "-";
}
// Signed, so that filling (+) and draining (-) read at a glance; "-" until two samples.
std::string NetRate(const QueueStatus& queue) {
    return queue.net_rate ? fmt::format("{:+.1f}", *queue.net_rate) : "-";
}

std::string Row(const QueueStatus& queue) {
    if (!queue.exists)
        return fmt::format("{:<32} (missing: run `orderflowctl topology declare`)", queue.name);
    return fmt::format("{:<32} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8} {:>7} {:>7} {:>7}", queue.name,
                       queue.ready, Unacked(queue), queue.consumers,
                       Rate(queue, queue.rates.publish), Rate(queue, queue.rates.deliver),
                       NetRate(queue), queue.dlq_ready, queue.retry_ready,
                       FormatEta(queue.eta_seconds));
}

// "stream orders.events: 48210 messages (offsets 0-48209, read from the stream; the
// management API's count, 0, is stale)", or the broker's count said to be such.
std::string StreamLine(const StreamStatus& stream) {
    if (!stream.Known()) return {};
    const auto messages = *stream.Messages();
    if (!stream.read) {
        return fmt::format(
            "stream orders.events: {} messages (the management API's count, refreshed only now "
            "and then)",
            messages);
    }
    std::string where = stream.first_offset ? fmt::format("offsets {}-{}, read from the stream",
                                                          *stream.first_offset, *stream.last_offset)
                                            : std::string("read from the stream");
    if (stream.BrokerStale()) {
        where += fmt::format("; the management API's count, {}, is stale", *stream.broker_messages);
    }
    return fmt::format("stream orders.events: {} messages ({})", messages, where);
}

std::vector<std::string> Footer(const StatusSnapshot& snapshot) {
    std::vector<std::string> lines;
    if (const auto line = StreamLine(snapshot.stream); !line.empty()) lines.push_back(line);
    if (std::ranges::any_of(snapshot.queues, &QueueStatus::unacked_stale)) {
        lines.push_back(
            "?: unacked as of the management API's last record, older than the exact ready "
            "count");
    }
    for (const auto& warning : snapshot.warnings) lines.push_back("warning: " + warning);
    return lines;
}

}  // namespace

std::expected<std::vector<MgmtQueue>, std::string> ParseMgmtQueues(std::string_view json) {
    rapidjson::Document document;
    document.Parse(json.data(), json.size());
    if (document.HasParseError() || !document.IsArray()) {
        return std::unexpected("the management API answered something other than a JSON array");
    }
    std::vector<MgmtQueue> out;
    for (const auto& entry : document.GetArray()) {
        if (!entry.IsObject()) continue;
        const auto name = entry.FindMember("name");
        if (name == entry.MemberEnd() || !name->value.IsString()) continue;
        MgmtQueue queue;
        queue.name = name->value.GetString();
        queue.messages = IntMember(entry, "messages");
        queue.ready = IntMember(entry, "messages_ready");
        queue.unacked = IntMember(entry, "messages_unacknowledged");
        queue.consumers = IntMember(entry, "consumers");
        if (const auto stats = entry.FindMember("message_stats");
            stats != entry.MemberEnd() && stats->value.IsObject()) {
            queue.counters = {IntMember(stats->value, "publish"),
                              IntMember(stats->value, "deliver_get")};
            queue.rates = {RateMember(stats->value, "publish_details"),
                           RateMember(stats->value, "deliver_get_details")};
        }
        out.push_back(std::move(queue));
    }
    return out;
}

void ApplyExactDepth(QueueStatus& queue, std::optional<int64_t> record_ready) {
    if (!queue.detailed) return;
    queue.unacked_stale = record_ready && *record_ready != queue.ready;
    if (!queue.net_rate) return;
    const double derived = queue.rates.publish - *queue.net_rate;
    if (derived > queue.rates.deliver + 1e-9) {
        queue.rates.deliver = derived;
        queue.deliver_derived = true;
    }
}

std::optional<int64_t> StreamStatus::Messages() const {
    if (!read) return broker_messages;
    if (!first_offset || !last_offset) return 0;
    return *last_offset - *first_offset + 1;
}

std::string FormatEta(std::optional<double> seconds) {
    if (!seconds) return "-";
    const auto total = static_cast<int64_t>(std::ceil(*seconds));
    if (total < 60) return fmt::format("{}s", total);
    if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
    if (total < 100 * 3600) return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
    return ">99h";
}

std::optional<double> EstimateEta(const QueueStatus& queue) {
    if (queue.ready > 0 && queue.net_rate) {
        if (*queue.net_rate >= -1e-9) return std::nullopt;  // filling or stalled
        return static_cast<double>(queue.Backlog()) / -*queue.net_rate;
    }
    if (!queue.detailed) return std::nullopt;
    return EtaSeconds(queue.Backlog(), queue.rates);
}

std::string FormatRate(double per_second) { return fmt::format("{:.1f}", per_second); }

std::string RenderTable(const StatusSnapshot& snapshot) {
    std::string out = Header() + "\n";
    for (const auto& queue : snapshot.queues) out += Row(queue) + "\n";
    for (const auto& line : Footer(snapshot)) out += line + "\n";
    return out;
}

std::string RenderJson(const StatusSnapshot& snapshot) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.StartObject();
    writer.Key("at");
    writer.String(events::FormatTime(snapshot.at).c_str());
    writer.Key("queues");
    writer.StartArray();
    for (const auto& queue : snapshot.queues) {
        writer.StartObject();
        writer.Key("name");
        writer.String(queue.name.c_str());
        writer.Key("exists");
        writer.Bool(queue.exists);
        OptionalInts(writer,
                     {{"ready", queue.ready},
                      {"unacked", queue.detailed ? std::optional(queue.unacked) : std::nullopt},
                      {"consumers", queue.consumers},
                      {"dlq_ready", queue.dlq_ready},
                      {"retry_ready", queue.retry_ready}});
        for (const auto& [key, value] : {std::pair{"publish_rate", queue.rates.publish},
                                         std::pair{"deliver_rate", queue.rates.deliver}}) {
            writer.Key(key);
            queue.detailed ? writer.Double(value) : writer.Null();
        }
        writer.Key("net_rate");
        queue.net_rate ? writer.Double(std::round(*queue.net_rate * 10) / 10) : writer.Null();
        writer.Key("eta_seconds");
        if (queue.eta_seconds) {
            writer.Double(std::round(*queue.eta_seconds * 10) / 10);
        } else {
            writer.Null();
        }
        writer.Key("unacked_stale");
        writer.Bool(queue.unacked_stale);
        writer.Key("deliver_rate_derived");
        writer.Bool(queue.deliver_derived);
        writer.EndObject();
    }
    writer.EndArray();
    if (const auto& stream = snapshot.stream; stream.Known()) {
        writer.Key("stream");
        writer.StartObject();
        writer.Key("name");
        writer.String("orders.events");
        writer.Key("messages");
        writer.Int64(*stream.Messages());
        writer.Key("source");
        writer.String(stream.read ? "stream" : "management");
        OptionalInts(writer, {{"first_offset", stream.first_offset},
                              {"last_offset", stream.last_offset},
                              {"broker_messages", stream.broker_messages}});
        writer.Key("broker_messages_stale");
        writer.Bool(stream.BrokerStale());
        writer.EndObject();
    }
    if (!snapshot.warnings.empty()) {
        writer.Key("warnings");
        writer.StartArray();
        for (const auto& warning : snapshot.warnings) writer.String(warning.c_str());
        writer.EndArray();
    }
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

std::string RenderLines(const StatusSnapshot& snapshot) {
    const auto at = events::FormatTime(snapshot.at);
    std::string out;
    for (const auto& queue : snapshot.queues) {
        if (!queue.exists) {
            out += fmt::format("{} queue={} missing=true\n", at, queue.name);
            continue;
        }
        out += fmt::format(
            "{} queue={} ready={} unacked={}{} consumers={} dlq={} retry={} publish_rate={} "
            "deliver_rate={} net_rate={} eta_s={}\n",
            at, queue.name, queue.ready, queue.detailed ? std::to_string(queue.unacked) : "-",
            queue.unacked_stale ? " unacked_stale=true" : "", queue.consumers, queue.dlq_ready,
            queue.retry_ready, Rate(queue, queue.rates.publish), Rate(queue, queue.rates.deliver),
            NetRate(queue),
            queue.eta_seconds ? fmt::format("{:.0f}", std::ceil(*queue.eta_seconds)) : "-");
    }
    if (const auto& stream = snapshot.stream; stream.Known()) {
        out += fmt::format("{} stream=orders.events messages={} source={}", at, *stream.Messages(),
                           stream.read ? "stream" : "management");
        if (stream.first_offset) {
            out += fmt::format(" first_offset={} last_offset={}", *stream.first_offset,
                               *stream.last_offset);
        }
        if (stream.read && stream.broker_messages) {
            out += fmt::format(" broker_messages={}{}", *stream.broker_messages,
                               stream.BrokerStale() ? " broker_stale=true" : "");
        }
        out += "\n";
    }
    for (const auto& warning : snapshot.warnings) {
        out += fmt::format("{} warning=\"{}\"\n", at, warning);
    }
    return out;
}

std::string RenderFrame(const StatusSnapshot& snapshot, int64_t scale, std::string_view title) {
    std::vector<std::string> lines;
    lines.push_back(fmt::format("{}  {}", title, events::FormatTime(snapshot.at)));
    lines.emplace_back();
    lines.push_back(Header());
    for (const auto& queue : snapshot.queues) lines.push_back(Row(queue));
    lines.emplace_back();
    lines.push_back(
        fmt::format("backlog (ready+unacked), full bar = {}", std::max<int64_t>(scale, 1)));
    for (const auto& queue : snapshot.queues) {
        const auto backlog = queue.Backlog();
        const int filled = scale <= 0
                               ? 0
                               : static_cast<int>(std::clamp<int64_t>(
                                     (backlog * kBarWidth + scale - 1) / scale, 0, kBarWidth));
        lines.push_back(fmt::format("{:<32} |{}{}| {}", queue.name, std::string(filled, '#'),
                                    std::string(kBarWidth - filled, ' '), backlog));
    }
    const auto footer = Footer(snapshot);
    if (!footer.empty()) lines.emplace_back();
    lines.insert(lines.end(), footer.begin(), footer.end());
    std::string out;
    for (const auto& line : lines) out += line + kEraseLine + "\n";
    return out;
}

}  // namespace orderflow::ctl
