// Dead-letter operations shared by `orderflowctl dlq` and the console's
// /api/dead-letters routes: browse, replay and purge, each on a blocking broker::Client
// owned by the calling thread. They decide and act; the callers only present the results
// (terminal text, JSON) and write the audit lines where their users read them (stdout for
// the CLI, the service log and the HTTP answer for the console).
//
// Browsing uses basic.get without ack and holds every fetched message until the end: a
// message we hold is not delivered again (so a walk through the DLQ sees each one once) and
// is not lost if we die (closing the connection returns it to the DLQ). Replay publishes
// the copy with confirm and acks the original only after the confirm, so an interruption at
// any point leaves the message in the work queue, in the DLQ, or in both (consumers dedupe
// by message_id). A replay walks only the dead letters present when it starts, so a copy
// that fails again and comes back to the DLQ meanwhile is not replayed twice by one run.
#pragma once

#include <csignal>
#include <cstddef>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "broker/client.hpp"
#include "ctl/messages.hpp"

namespace orderflow::ctl {

// QUEUE must be one of the contract's work queues (or its .dlq): a typo is a usage error,
// not a "queue does not exist" at run time.
std::expected<QueuePair, std::string> ResolveContractQueue(std::string_view name);

// Checks that the DLQ (and, when `need_work_queue`, the work queue) exist.
std::expected<void, std::string> CheckQueues(broker::Client& client, const QueuePair& queues,
                                             bool need_work_queue);

// Up to `limit` dead letters, oldest first; nothing is removed (they are requeued).
std::expected<std::vector<broker::Delivery>, std::string> BrowseDeadLetters(
    broker::Client& client, const broker::QueueName& dlq, size_t limit);

// `message_id=...` as the audit lines show it ("-" when absent, quoted when needed).
std::string AuditId(const broker::Delivery& delivery);
// Quotes a value for a key=value line when it holds spaces, quotes, '=' or '\'.
std::string AuditQuoted(std::string_view text);

struct ReplayRequest {
    Selection selection;
    std::optional<size_t> limit;  // at most this many replayed
    bool force = false;           // replay even after kMaxReplays
    // Test only: SIGKILL this process right after the Nth confirmed copy, before its ack.
    std::optional<int> abort_after;
    // Checked between messages: set (by a signal handler) to stop after the one in hand.
    const volatile std::sig_atomic_t* stop = nullptr;
};

struct ReplayResult {
    size_t examined = 0, replayed = 0, skipped = 0, failed = 0;
    std::string error;      // empty: ran to the end (or the limit)
    bool no_match = false;  // a message_id was asked for and none matched
    size_t NotSelected() const { return examined - replayed - skipped - failed; }
    // "summary queue=... dlq=... examined=... replayed=... skipped=... failed=... not_selected=..."
    std::string Summary(const QueuePair& queues) const;
};

// Replays the selected dead letters of `queues.dlq` into `queues.work`. `audit` gets one
// line per decision ("replayed ...", "skipped ...", "failed ...", "duplicated ..."), without
// the time, as soon as it is taken.
ReplayResult ReplayDeadLetters(broker::Client& client, const QueuePair& queues,
                               const ReplayRequest& request,
                               const std::function<void(const std::string&)>& audit);

// Deletes every message of the DLQ; how many.
std::expected<uint32_t, std::string> PurgeDeadLetters(broker::Client& client,
                                                      const QueuePair& queues);

}  // namespace orderflow::ctl
