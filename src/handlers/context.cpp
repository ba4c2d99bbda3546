// EventContext helpers.
#include "handlers/context.hpp"

namespace orderflow::handlers {

events::Envelope EventContext::NewEnvelope(events::EventType type,
                                           const std::string& order_id) const {
    events::Envelope envelope;
    envelope.event_id = new_id();
    envelope.type = type;
    envelope.schema_version = events::kSchemaVersion;
    envelope.occurred_at = events::FormatTime(clock());
    envelope.order_id = order_id;
    return envelope;
}

}  // namespace orderflow::handlers
