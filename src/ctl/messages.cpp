// Dead-letter records, replay copies and raw publishes; see messages.hpp.
#include "ctl/messages.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <array>

#include "broker/topology.hpp"
#include "service/retry.hpp"

namespace orderflow::ctl {
namespace {

constexpr std::string_view kDlqSuffix = ".dlq";

// What the consumer wrote when it gave up: meaningless on a fresh attempt.
constexpr std::array<std::string_view, 6> kFailureRecord{
    "x-error-kind", "x-error", "x-failed-queue", "x-failed-at", "x-consumer", "x-last-error"};

// What the broker wrote when it dead-lettered: must not follow the copy around (a later
// dead-lettering of the copy would append to a stale history).
bool IsBrokerHeader(std::string_view name) {
    return name == "x-death" || name.starts_with("x-first-death") ||
           name.starts_with("x-last-death") || name == "x-delivery-count" ||
           name == "x-stream-offset";
}

const broker::FieldTable* FirstDeath(const broker::Properties& properties) {
    const auto it = properties.headers.find("x-death");
    if (it == properties.headers.end()) return nullptr;
    const auto* deaths = std::get_if<broker::FieldArray>(&it->second.value);
    if (deaths == nullptr || deaths->empty()) return nullptr;
    return std::get_if<broker::FieldTable>(&deaths->front().value);
}

std::string StringMember(const rapidjson::Value& object, const char* name) {
    const auto it = object.FindMember(name);
    if (it == object.MemberEnd() || !it->value.IsString()) return {};
    return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace

std::expected<QueuePair, std::string> ResolveQueue(std::string_view name) {
    if (name.ends_with(kDlqSuffix)) name.remove_suffix(kDlqSuffix.size());
    if (name.empty()) return std::unexpected("empty queue name");
    const broker::QueueName work{std::string(name)};
    return QueuePair{work, broker::DeadLetterQueue(work)};
}

std::string KindOf(const broker::Properties& properties) {
    if (const auto* kind = properties.Header("x-error-kind")) return *kind;
    if (const auto* reason = properties.Header("x-first-death-reason")) return *reason;
    if (const auto* death = FirstDeath(properties)) {
        if (const auto it = death->find("reason"); it != death->end()) {
            if (const auto* reason = it->second.AsString()) return *reason;
        }
    }
    return "unknown";
}

std::string ReasonOf(const broker::Properties& properties) {
    if (const auto* error = properties.Header("x-error")) return *error;
    return {};
}

int ReplayCountOf(const broker::Properties& properties) {
    const auto count = properties.IntHeader(kReplayCountHeader);
    return count && *count > 0 ? static_cast<int>(std::min<int64_t>(*count, 1'000'000)) : 0;
}

const std::vector<std::string>& RecordHeaders() {
    static const std::vector<std::string> headers{"x-error-kind",
                                                  "x-error",
                                                  "x-failed-queue",
                                                  "x-original-exchange",
                                                  "x-original-routing-key",
                                                  "x-attempts",
                                                  "x-first-failed-at",
                                                  "x-failed-at",
                                                  "x-consumer",
                                                  "x-replay-count",
                                                  "x-first-death-reason",
                                                  "x-first-death-queue",
                                                  "traceparent"};
    return headers;
}

std::string BodyPreview(std::string_view body, size_t limit) {
    std::string out;
    const auto shown = body.substr(0, limit);
    for (const unsigned char c : shown) {
        switch (c) {
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\\':
                out += "\\\\";
                break;
            default:
                if (c >= 0x20 && c < 0x7f) {
                    out.push_back(static_cast<char>(c));
                } else {
                    out += fmt::format("\\x{:02x}", c);
                }
        }
    }
    if (body.size() > limit) out += fmt::format("... ({} bytes)", body.size());
    return out;
}

bool Selected(const Selection& selection, const broker::Delivery& dead_letter) {
    if (selection.message_id && dead_letter.properties.message_id != *selection.message_id) {
        return false;
    }
    if (selection.kind && KindOf(dead_letter.properties) != *selection.kind) return false;
    if (selection.reason && ReasonOf(dead_letter.properties) != *selection.reason) return false;
    return true;
}

broker::OutgoingMessage ReplayCopy(const broker::Delivery& dead_letter,
                                   const broker::QueueName& work_queue) {
    broker::OutgoingMessage out;
    out.exchange = broker::ExchangeName{""};
    out.routing_key = broker::RoutingKey{work_queue.value};
    out.properties = dead_letter.properties;
    out.properties.expiration.clear();
    out.body = dead_letter.body;
    out.mandatory = true;  // the work queue is gone: an error, not a silent drop
    auto& headers = out.properties.headers;

    // A dead letter of the broker's own (delivery limit) has no x-original-* of ours: take
    // them from its first death before that record is dropped.
    if (const auto* death = FirstDeath(dead_letter.properties)) {
        if (!headers.contains("x-original-exchange")) {
            if (const auto it = death->find("exchange");
                it != death->end() && it->second.AsString()) {
                headers["x-original-exchange"] = *it->second.AsString();
            }
        }
        const auto keys = death->find("routing-keys");
        if (!headers.contains("x-original-routing-key") && keys != death->end()) {
            const auto* list = std::get_if<broker::FieldArray>(&keys->second.value);
            if (list != nullptr && !list->empty() && list->front().AsString()) {
                headers["x-original-routing-key"] = *list->front().AsString();
            }
        }
    }

    std::erase_if(headers, [](const auto& entry) {
        const std::string_view name = entry.first;
        return IsBrokerHeader(name) || name == service::kAttemptsHeader ||
               std::ranges::find(kFailureRecord, name) != kFailureRecord.end();
    });
    headers[kReplayCountHeader] = int64_t{ReplayCountOf(dead_letter.properties) + 1};
    return out;
}

std::expected<broker::OutgoingMessage, std::string> BuildRawMessage(
    const RawPublish& request, events::TimePoint now, const std::function<std::string()>& new_id) {
    if (request.routing_key.empty()) return std::unexpected("--routing-key must not be empty");
    broker::OutgoingMessage out;
    out.exchange = broker::kEventsExchange;
    out.routing_key = broker::RoutingKey{request.routing_key};
    out.body = request.body;
    out.mandatory = true;
    auto& properties = out.properties;
    properties.content_type = "application/json";
    properties.delivery_mode = 2;
    properties.app_id = "orderflowctl";
    properties.timestamp =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();

    // Derive what SPEC section 4 puts in the properties from the body, when it is an event.
    std::string event_id;
    rapidjson::Document document;
    document.Parse(request.body.data(), request.body.size());
    if (!document.HasParseError() && document.IsObject()) {
        event_id = StringMember(document, "event_id");
        properties.correlation_id = StringMember(document, "order_id");
        properties.type = StringMember(document, "event_type");
    }
    if (!request.type.empty()) properties.type = request.type;
    if (!request.no_message_id) {
        // message_id equals the body's event_id (SPEC 4), so publishing the same event twice
        // is a duplicate the consumers drop.
        properties.message_id = request.message_id.value_or(event_id.empty() ? new_id() : event_id);
    }

    for (const auto& header : request.headers) {
        const auto equals = header.find('=');
        if (equals == std::string::npos || equals == 0) {
            return std::unexpected(fmt::format("--header '{}': expected name=value", header));
        }
        properties.headers[header.substr(0, equals)] = header.substr(equals + 1);
    }
    if (!properties.headers.contains("traceparent")) {
        properties.headers["traceparent"] = events::FormatTraceparent(events::NewTrace());
    }
    return out;
}

}  // namespace orderflow::ctl
