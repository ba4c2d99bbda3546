// One order's timeline; see timeline.hpp.
#include "console/timeline.hpp"

#include <algorithm>

#include "console/json_writer.hpp"
#include "events/codec.hpp"
#include "events/ids.hpp"

namespace orderflow::console {

StreamEvent ToStreamEvent(const broker::Delivery& delivery, const events::Envelope& envelope,
                          int64_t fallback_ms) {
    StreamEvent event;
    event.type = envelope.type;
    event.event_id = envelope.event_id;
    event.order_id = envelope.order_id;
    const auto at = events::ParseTime(envelope.occurred_at);
    event.at_ms = at ? events::ToUnixMillis(*at) : fallback_ms;
    event.service = delivery.properties.app_id;
    if (const auto* traceparent = delivery.properties.Header("traceparent")) {
        if (auto ctx = events::ParseTraceparent(*traceparent)) event.trace_id = ctx->trace_id;
    }
    if (envelope.type == events::EventType::kInventoryRejected) {
        if (auto decoded = events::DecodeInventoryEvent(delivery.body)) {
            if (const auto* rejected = std::get_if<events::InventoryRejected>(&*decoded)) {
                event.detail = rejected->reason;
            }
        }
    } else if (envelope.type == events::EventType::kNotificationSent) {
        if (auto decoded = events::DecodeNotificationSent(delivery.body)) {
            event.detail = decoded->message;
            event.outcome = std::string(events::OutcomeName(decoded->outcome));
        }
    }
    return event;
}

void Timeline::Add(const StreamEvent& event) {
    if (trace_id_.empty()) trace_id_ = event.trace_id;
    stages_.push_back({event.type, event.at_ms, event.service, event.event_id});
    if (event.type == events::EventType::kInventoryRejected) reason_ = event.detail;
    if (event.type == events::EventType::kNotificationSent) {
        text_ = event.detail;
        outcome_ = event.outcome.empty() ? "unknown" : event.outcome;
    }
}

std::optional<int64_t> Timeline::PlacedAt() const {
    const auto placed = std::ranges::find(stages_, events::EventType::kOrderPlaced, &Stage::type);
    if (placed == stages_.end()) return std::nullopt;
    return placed->at_ms;
}

std::string Timeline::Json(std::string_view order_id, const Source& source) const {
    auto stages = stages_;
    std::ranges::stable_sort(stages, {}, &Stage::at_ms);
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartObject();
    json::Member(w, "order_id", order_id);
    json::Member(w, "trace_id", trace_id_);
    json::MemberOrNull(w, "outcome", outcome_ == "unknown" ? std::string_view() : outcome_);
    json::MemberOrNull(w, "reason", reason_);
    json::MemberOrNull(w, "notification", text_);
    json::Member(w, "source", source.name);
    json::MemberOrNull(w, "note", source.note);
    w.Key("events");
    w.StartArray();
    const Stage* previous = nullptr;
    for (const auto& stage : stages) {
        w.StartObject();
        json::Member(w, "type", events::TypeName(stage.type));
        json::Member(w, "at", events::FormatTime(events::FromUnixMillis(stage.at_ms)));
        json::Member(w, "service", stage.service);
        json::Member(w, "event_id", stage.event_id);
        w.Key("since_previous_ms");
        if (previous) {
            w.Int64(stage.at_ms - previous->at_ms);
        } else {
            w.Null();
        }
        w.EndObject();
        previous = &stage;
    }
    w.EndArray();
    w.EndObject();
    return json::Text(buffer);
}

}  // namespace orderflow::console
