// The messages orderflowctl builds and reads: the failure record of a dead letter (SPEC
// section 6), the replay copy of one, and a raw publish. Pure functions (time and ids are
// passed in), unit-tested without a broker.
#pragma once

#include <cstddef>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/message.hpp"
#include "events/ids.hpp"

namespace orderflow::ctl {

// A dead letter replayed this often is probably not going to work the next time either:
// it stays in the DLQ unless the operator insists (--force).
inline constexpr int kMaxReplays = 5;
inline constexpr const char* kReplayCountHeader = "x-replay-count";
inline constexpr size_t kPreviewBytes = 200;

struct QueuePair {
    broker::QueueName work;  // "inventory.order-placed"
    broker::QueueName dlq;   // "inventory.order-placed.dlq"
};
// Accepts the work queue's name or its ".dlq" name.
std::expected<QueuePair, std::string> ResolveQueue(std::string_view name);

// x-error-kind ("poison", "exhausted"); for a dead letter without our record (the quorum
// queue's delivery limit dead-lettered it, so the broker wrote only x-death) the broker's
// reason, e.g. "delivery_limit"; else "unknown".
std::string KindOf(const broker::Properties& properties);
// x-error, the failure record's reason; empty without a record.
std::string ReasonOf(const broker::Properties& properties);
int ReplayCountOf(const broker::Properties& properties);  // x-replay-count, default 0

// The headers `dlq show` prints, in this order (absent ones are skipped).
const std::vector<std::string>& RecordHeaders();

// The first `limit` bytes, printable ASCII kept, everything else escaped (\n, \xNN), so a
// binary or hostile body cannot mess up the operator's terminal.
std::string BodyPreview(std::string_view body, size_t limit = kPreviewBytes);

struct Selection {
    std::optional<std::string> message_id;
    std::optional<std::string> kind;    // "poison" or "exhausted"
    std::optional<std::string> reason;  // x-error exactly (a console group)
};
bool Selected(const Selection& selection, const broker::Delivery& dead_letter);

// The copy that goes back to the work queue: same body and properties; the failure record
// and broker bookkeeping (x-death, ...) dropped so the consumer sees a fresh message;
// x-attempts reset (removed: absent means attempt 1); x-replay-count incremented; where the
// message originally came from kept. Sent through the default exchange with the work queue
// as routing key, so it reaches that queue only, not every queue bound to its routing key.
broker::OutgoingMessage ReplayCopy(const broker::Delivery& dead_letter,
                                   const broker::QueueName& work_queue);

struct RawPublish {
    std::string routing_key;
    std::string body;
    std::optional<std::string> message_id;  // nullopt: the body's event_id, else a new UUID
    bool no_message_id = false;             // poison demo: no idempotency key at all
    std::string type;                       // empty: the body's event_type
    std::vector<std::string> headers;       // "name=value"
};
// A message for exchange `orders` with the properties of SPEC section 4 derived from the
// body where it has them (a body that is not JSON is sent as it is: that is the poison demo).
std::expected<broker::OutgoingMessage, std::string> BuildRawMessage(
    const RawPublish& request, events::TimePoint now, const std::function<std::string()>& new_id);

}  // namespace orderflow::ctl
