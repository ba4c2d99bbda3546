// What a handler needs from the outside world besides its store: time and fresh ids,
// injected so tests are deterministic.
#pragma once

#include <functional>
#include <string>

#include "events/events.hpp"
#include "events/ids.hpp"

namespace orderflow::handlers {

struct EventContext {
    events::Clock clock = events::SystemClock();
    std::function<std::string()> new_id = [] { return events::NewUuid(); };

    // A fresh envelope for an event caused by `order_id`.
    events::Envelope NewEnvelope(events::EventType type, const std::string& order_id) const;
};

}  // namespace orderflow::handlers
