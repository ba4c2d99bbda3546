// The model and the renderings of `orderflowctl status`: parsing the management API's
// queue list, and the table, JSON, plain lines and --watch screen built from one snapshot.
// Pure (the snapshot carries its time), so every rendering is unit-tested.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/rates.hpp"
#include "events/ids.hpp"

namespace orderflow::ctl {

// One entry of GET /api/queues/<vhost>.
struct MgmtQueue {
    std::string name;
    int64_t messages = 0;
    int64_t ready = 0;
    int64_t unacked = 0;
    int64_t consumers = 0;
    Counters counters;
    Rates rates;  // the broker's *_details.rate
};
std::expected<std::vector<MgmtQueue>, std::string> ParseMgmtQueues(std::string_view json);

struct QueueStatus {
    std::string name;
    bool exists = true;
    int64_t ready = 0;
    int64_t unacked = 0;
    int64_t consumers = 0;
    int64_t dlq_ready = 0;
    int64_t retry_ready = 0;  // sum over the delay queues Q.retry.*
    Rates rates;
    std::optional<double>
        net_rate;  // d(ready)/dt from successive samples (--watch); see DepthTrend
    std::optional<double> eta_seconds;
    // Unacked and the rates come from the management API only: false when it did not
    // answer, and they are shown as unknown ("-", null) rather than as zeros.
    bool detailed = true;
    // The management record's ready count differs from the exact one: its unacked count
    // (which only it has) is as old as it is. Shown with a '?' and as "unacked_stale".
    bool unacked_stale = false;
    // rates.deliver was derived from the exact depth trend (the counters lagged).
    bool deliver_derived = false;

    int64_t Backlog() const { return ready + unacked; }
};

// The stream orders.events. RabbitMQ 3.10 refreshes a stream's message count in the
// management API (and in a passive declare) only now and then: it can say 0 for a stream
// holding thousands. Its first and last offsets, read from the stream itself, give the
// exact count (offsets are consecutive); the broker's count is then only shown beside it,
// marked stale when it differs.
struct StreamStatus {
    std::optional<int64_t> broker_messages;  // the management API's count
    bool read = false;                       // the stream itself was read
    std::optional<int64_t> first_offset;     // when read: nullopt for an empty stream
    std::optional<int64_t> last_offset;

    // The exact count when the stream was read, else the broker's (maybe stale) one.
    std::optional<int64_t> Messages() const;
    bool BrokerStale() const { return read && broker_messages && Messages() != broker_messages; }
    bool Known() const { return read || broker_messages.has_value(); }
};

struct StatusSnapshot {
    events::TimePoint at;
    std::vector<QueueStatus> queues;
    StreamStatus stream;
    std::vector<std::string> warnings;  // shown, not fatal (--watch keeps going)
};

// Corrects the management API's figures with the exact ready depth and its trend: an
// unacked count whose record (`record_ready`) disagrees with the exact ready count is as
// old as that record (unacked_stale); and what left the ready list is what came in minus
// what it grew by, so the out rate is at least publish - net_rate (a drain with nothing
// coming in shows its real speed while the counters of a quorum queue stand still).
void ApplyExactDepth(QueueStatus& queue, std::optional<int64_t> record_ready);

std::string FormatEta(std::optional<double> seconds);  // "4s", "2m05s", "1h02m", "-"
std::string FormatRate(double per_second);             // "12.5"

// The time to drain: from the exact depth trend while ready messages drain, else from the
// management API's rates (EtaSeconds); nullopt when the queue is not draining.
std::optional<double> EstimateEta(const QueueStatus& queue);

// Plain aligned table (one-shot `status`).
std::string RenderTable(const StatusSnapshot& snapshot);
// {"queues":[{"name","ready","unacked","consumers","dlq_ready","retry_ready","publish_rate",
//  "deliver_rate","net_rate","eta_seconds"}...],"stream":{...}}
std::string RenderJson(const StatusSnapshot& snapshot);
// One `key=value` line per queue, prefixed with the time (--watch when stdout is no tty).
std::string RenderLines(const StatusSnapshot& snapshot);
// The --watch screen: the table plus a bar per queue of its backlog (ready+unacked) scaled
// to `scale` (the largest backlog seen so far), so a backlog filling and draining is visible.
// Lines end with "erase to end of line" so a redraw from the home position leaves no debris.
std::string RenderFrame(const StatusSnapshot& snapshot, int64_t scale, std::string_view title);

}  // namespace orderflow::ctl
