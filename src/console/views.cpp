// The console's read documents; see views.hpp.
#include "console/views.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>

#include "console/json_writer.hpp"
#include "ctl/common.hpp"
#include "ctl/messages.hpp"
#include "events/ids.hpp"

namespace orderflow::console {
namespace {

using json::Member;
using json::MemberOrNull;
using json::String;
using json::Writer;

void Rate(Writer& w, double value) { w.Double(std::round(value * 10) / 10); }

std::string Member(const rapidjson::Value& object, const char* name) {
    if (!object.IsObject()) return {};
    const auto it = object.FindMember(name);
    if (it == object.MemberEnd() || !it->value.IsString()) return {};
    return {it->value.GetString(), it->value.GetStringLength()};
}

// "orderflow-inventory consumer (vm, pid 42)" -> service, role, host, pid.
bool ParseConnectionName(std::string_view name, Replica& out, std::string& role) {
    constexpr std::string_view kPrefix = "orderflow-";
    if (!name.starts_with(kPrefix)) return false;
    name.remove_prefix(kPrefix.size());
    const auto space = name.find(' ');
    const auto open = name.find(" (");
    if (space == std::string_view::npos || open == std::string_view::npos || !name.ends_with(")")) {
        return false;
    }
    out.service = std::string(name.substr(0, space));
    role = std::string(name.substr(space + 1, open > space ? open - space - 1 : 0));
    const auto inside = name.substr(open + 2, name.size() - open - 3);
    const auto comma = inside.rfind(", pid ");
    if (comma == std::string_view::npos) return false;
    out.host = std::string(inside.substr(0, comma));
    out.pid = std::string(inside.substr(comma + 6));
    return true;
}

// The service that consumes each work queue (SPEC section 3).
std::string ServiceOf(std::string_view queue) {
    return std::string(queue.substr(0, queue.find('.')));
}

}  // namespace

std::expected<std::vector<Replica>, std::string> ParseReplicas(std::string_view connections_json,
                                                               std::string_view consumers_json) {
    rapidjson::Document connections, consumers;
    connections.Parse(connections_json.data(), connections_json.size());
    consumers.Parse(consumers_json.data(), consumers_json.size());
    if (connections.HasParseError() || !connections.IsArray() || consumers.HasParseError() ||
        !consumers.IsArray()) {
        return std::unexpected("the management API answered something other than a JSON array");
    }
    std::map<std::string, Replica> by_process;      // "service host pid"
    std::map<std::string, std::string> process_of;  // broker's connection name -> key
    for (const auto& connection : connections.GetArray()) {
        const auto client = connection.FindMember("client_properties");
        if (client == connection.MemberEnd()) continue;
        Replica replica;
        std::string role;
        if (!ParseConnectionName(Member(client->value, "connection_name"), replica, role)) continue;
        const auto key = replica.service + " " + replica.host + " " + replica.pid;
        auto& entry = by_process.try_emplace(key, replica).first->second;
        entry.roles.push_back(role);
        process_of[Member(connection, "name")] = key;
    }
    for (const auto& consumer : consumers.GetArray()) {
        const auto channel = consumer.FindMember("channel_details");
        const auto queue = consumer.FindMember("queue");
        if (channel == consumer.MemberEnd() || queue == consumer.MemberEnd()) continue;
        const auto it = process_of.find(Member(channel->value, "connection_name"));
        if (it == process_of.end()) continue;
        auto& consumes = by_process[it->second].consumes;
        const auto name = Member(queue->value, "name");
        if (std::ranges::find(consumes, name) == consumes.end()) consumes.push_back(name);
    }
    std::vector<Replica> out;
    for (auto& [key, replica] : by_process) {
        std::ranges::sort(replica.roles);
        out.push_back(std::move(replica));
    }
    return out;
}

std::string OverviewJson(const OverviewInput& input) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    Member(w, "at", events::FormatTime(events::FromUnixMillis(input.now_ms)));
    w.Key("read_only");
    w.Bool(input.read_only);
    Member(w, "vhost", input.vhost);
    w.Key("broker");
    w.StartObject();
    w.Key("ok");
    w.Bool(input.status.has_value());
    MemberOrNull(w, "error", input.status_error);
    w.Key("warnings");
    w.StartArray();
    if (input.status) {
        for (const auto& warning : input.status->warnings) String(w, warning);
    }
    if (!input.replicas_error.empty()) String(w, input.replicas_error);
    w.EndArray();
    w.EndObject();

    w.Key("queues");
    w.StartArray();
    if (input.status) {
        for (const auto& queue : input.status->queues) {
            w.StartObject();
            Member(w, "name", queue.name);
            Member(w, "service", ServiceOf(queue.name));
            w.Key("exists");
            w.Bool(queue.exists);
            w.Key("ready");
            w.Int64(queue.ready);
            MemberOrNull(w, "unacked",
                         queue.detailed ? std::optional(queue.unacked) : std::nullopt);
            w.Key("unacked_stale");
            w.Bool(queue.unacked_stale);
            w.Key("consumers");
            w.Int64(queue.consumers);
            // In: what the stream saw arrive for this queue (exact, no statistics lag).
            // Out: in minus the growth of the exact ready depth.
            const auto in = input.in_rates.find(queue.name);
            const double in_rate = in != input.in_rates.end() ? in->second : queue.rates.publish;
            w.Key("in_rate");
            Rate(w, in_rate);
            w.Key("out_rate");
            Rate(w,
                 std::max(0.0, queue.net_rate ? in_rate - *queue.net_rate : queue.rates.deliver));
            w.Key("net_rate");
            if (queue.net_rate) {
                Rate(w, *queue.net_rate);
            } else {
                w.Null();
            }
            w.Key("retry_ready");
            w.Int64(queue.retry_ready);
            w.Key("dlq_ready");
            w.Int64(queue.dlq_ready);
            w.Key("eta_seconds");
            if (const auto eta = ctl::EstimateEta(queue)) {
                w.Double(std::round(*eta * 10) / 10);
            } else {
                w.Null();
            }
            w.EndObject();
        }
    }
    w.EndArray();
    w.Key("stream");
    w.StartObject();
    Member(w, "name", "orders.events");
    // The broker's count (RabbitMQ refreshes it only now and then) and the exact last offset
    // the console read.
    MemberOrNull(w, "messages", input.status ? input.status->stream.broker_messages : std::nullopt);
    MemberOrNull(w, "last_offset", input.stream_last_offset);
    w.EndObject();

    w.Key("services");
    w.StartArray();
    for (const char* service : {"ingress", "inventory", "notification", "analytics"}) {
        w.StartObject();
        Member(w, "name", service);
        w.Key("replicas");
        if (!input.replicas) {
            w.Null();
        } else {
            w.StartArray();
            for (const auto& replica : *input.replicas) {
                if (replica.service != service) continue;
                w.StartObject();
                Member(w, "host", replica.host);
                Member(w, "pid", replica.pid);
                w.Key("connections");
                w.StartArray();
                for (const auto& role : replica.roles) String(w, role);
                w.EndArray();
                w.Key("consuming");
                w.Bool(!replica.consumes.empty());
                w.Key("consumes");
                w.StartArray();
                for (const auto& queue : replica.consumes) String(w, queue);
                w.EndArray();
                w.EndObject();
            }
            w.EndArray();
        }
        w.EndObject();
    }
    w.EndArray();
    w.Key("seen");
    w.StartObject();
    for (const auto& [key, value] : {std::pair{"placed", input.seen.placed},
                                     {"reserved", input.seen.reserved},
                                     {"rejected", input.seen.rejected},
                                     {"notified", input.seen.notified}}) {
        w.Key(key);
        w.Int64(value);
    }
    w.EndObject();
    w.Key("orders_kept");
    w.Uint64(input.orders_kept);
    w.EndObject();
    return json::Text(buffer);
}

std::string DeadLettersJson(int64_t now_ms, const std::vector<DlqBrowse>& browsed,
                            size_t browse_limit) {
    struct Group {
        std::string queue, kind, reason, first, last;
        std::vector<const broker::Delivery*> letters;
    };
    std::vector<Group> groups;
    for (const auto& dlq : browsed) {
        for (const auto& letter : dlq.letters) {
            const auto kind = ctl::KindOf(letter.properties);
            const auto reason = ctl::ReasonOf(letter.properties);
            auto it = std::ranges::find_if(groups, [&](const Group& g) {
                return g.queue == dlq.queue && g.kind == kind && g.reason == reason;
            });
            if (it == groups.end()) {
                groups.push_back({dlq.queue, kind, reason, {}, {}, {}});
                it = std::prev(groups.end());
            }
            const auto* failed_at = letter.properties.Header("x-failed-at");
            const std::string at = failed_at ? *failed_at : std::string();
            if (!at.empty() && (it->first.empty() || at < it->first)) it->first = at;
            if (!at.empty() && at > it->last) it->last = at;
            it->letters.push_back(&letter);
        }
    }
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    Member(w, "at", events::FormatTime(events::FromUnixMillis(now_ms)));
    w.Key("browse_limit");
    w.Uint64(browse_limit);
    w.Key("dlqs");
    w.StartArray();
    for (const auto& dlq : browsed) {
        w.StartObject();
        Member(w, "queue", dlq.queue);
        Member(w, "dlq", dlq.dlq);
        w.Key("messages");
        w.Int64(dlq.messages);
        w.Key("browsed");
        w.Uint64(dlq.letters.size());
        MemberOrNull(w, "error", dlq.error);
        w.EndObject();
    }
    w.EndArray();
    w.Key("groups");
    w.StartArray();
    for (const auto& group : groups) {
        w.StartObject();
        for (const auto& [key, value] :
             {std::pair<const char*, const std::string&>{"queue", group.queue},
              {"kind", group.kind},
              {"reason", group.reason}}) {
            Member(w, key, value);
        }
        w.Key("count");
        w.Uint64(group.letters.size());
        Member(w, "first_failed_at", group.first);
        Member(w, "last_failed_at", group.last);
        w.Key("messages");
        w.StartArray();
        for (const auto* letter : group.letters) {
            const auto& p = letter->properties;
            w.StartObject();
            Member(w, "message_id", p.message_id);
            Member(w, "type", p.type);
            Member(w, "correlation_id", p.correlation_id);
            w.Key("replay_count");
            w.Int(ctl::ReplayCountOf(p));
            w.Key("headers");
            w.StartObject();
            for (const auto& name : ctl::RecordHeaders()) {
                const auto it = p.headers.find(name);
                if (it == p.headers.end()) continue;
                String(w, name);
                String(w, ctl::BodyPreview(ctl::FieldText(it->second), 1000));
            }
            if (const auto* traceparent = p.Header("traceparent")) {
                Member(w, "traceparent", *traceparent);
            }
            w.EndObject();
            w.Key("body_bytes");
            w.Uint64(letter->body.size());
            Member(w, "body_preview", ctl::BodyPreview(letter->body));
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return json::Text(buffer);
}

}  // namespace orderflow::console
