// One order's journey as the event stream tells it: each event with its time, emitting
// service and event id, the trace id, the rejection reason and the notification text; and the
// document of GET /api/orders/{id}. Built by the live model as events arrive, and by the
// stream lookup (order_lookup.hpp) for an order the model no longer keeps.
//
// Threading: none (a plain value); its owners lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/message.hpp"
#include "events/events.hpp"

namespace orderflow::console {

struct StreamEvent {
    events::EventType type = events::EventType::kOrderPlaced;
    std::string event_id;
    std::string order_id;
    int64_t at_ms = 0;     // occurred_at
    std::string service;   // app_id of the emitter
    std::string trace_id;  // from traceparent
    std::string detail;    // rejection reason, or the notification text
    std::string outcome;   // NotificationSent: confirmed|rejected
};

// What the console keeps of one stream delivery; `fallback_ms` stands for an unreadable
// occurred_at.
StreamEvent ToStreamEvent(const broker::Delivery& delivery, const events::Envelope& envelope,
                          int64_t fallback_ms);

class Timeline final {
  public:
    void Add(const StreamEvent& event);
    // The OrderPlaced's event time, once seen.
    std::optional<int64_t> PlacedAt() const;
    bool Notified() const { return !outcome_.empty(); }
    bool Empty() const { return stages_.empty(); }

    // Where the document came from, and what the page should say about it.
    struct Source {
        std::string_view name;  // "memory" (the last orders seen) or "stream" (looked up)
        std::string note;       // empty: none
    };
    // {"order_id","trace_id","outcome","reason","notification","source","note",
    //  "events":[{"type","at","service","event_id","since_previous_ms"}...]}, events by time.
    std::string Json(std::string_view order_id, const Source& source) const;

  private:
    struct Stage {
        events::EventType type;
        int64_t at_ms;
        std::string service;
        std::string event_id;
    };
    std::string trace_id_;
    std::vector<Stage> stages_;
    std::string reason_;
    std::string text_;
    std::string outcome_;
};

}  // namespace orderflow::console
