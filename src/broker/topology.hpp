// The broker topology of SPEC section 3, as one description that is declared
// idempotently by every service and checked by `orderflowctl topology check`.
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <vector>

#include "broker/connection_options.hpp"
#include "broker/message.hpp"

namespace orderflow::broker {

inline const ExchangeName kEventsExchange{"orders"};
inline const ExchangeName kDeadLetterExchange{"orders.dlx"};
inline const QueueName kInventoryQueue{"inventory.order-placed"};
inline const QueueName kNotificationQueue{"notification.inventory-events"};
inline const QueueName kOrderStatusQueue{"ingress.order-status"};
inline const QueueName kEventStream{"orders.events"};
inline constexpr int kDeliveryLimit = 10;

QueueName DeadLetterQueue(const QueueName& work_queue);  // "Q.dlq"
// Delay queue that holds a message before attempt `next_attempt` (2, 3, ...) of Q.
// Messages expire (per-message TTL) and are dead-lettered through the default exchange
// straight back to Q, so no other queue bound to the routing key sees them again.
QueueName RetryQueue(const QueueName& work_queue, int level);  // "Q.retry.<level>", level >= 1

struct ExchangeSpec {
    ExchangeName name;
    std::string type;  // "topic", "direct"
};
struct QueueSpec {
    QueueName name;
    FieldTable arguments;
};
struct BindingSpec {
    QueueName queue;
    ExchangeName exchange;
    RoutingKey key;
};
struct Topology {
    std::vector<ExchangeSpec> exchanges;
    std::vector<QueueSpec> queues;
    std::vector<BindingSpec> bindings;
};

// The contract topology; `retry_levels` delay queues per work queue (>= 1).
Topology ContractTopology(int retry_levels);
// The three work queues of the contract, in a stable order.
std::vector<QueueName> WorkQueues();

// What the broker last refused of this process's topology, in words that name the exchange
// or queue and what is wrong with it (missing and not ours to declare, or declared with other
// arguments: TOPOLOGY_MISMATCH); empty once a declare or passive check succeeded, or before
// any. No URL or credential is ever part of it. Thread-safe (for /readyz).
std::string TopologyProblem();

// Opens a short-lived connection and declares everything (idempotent).
std::expected<void, std::string> DeclareTopology(const ConnectionOptions& options,
                                                 const Topology& topology);
struct CheckResult {
    std::vector<std::string> missing;  // "queue inventory.order-placed", ...
};
// Passive declares: reports what is missing or declared with other arguments.
std::expected<CheckResult, std::string> CheckTopology(const ConnectionOptions& options,
                                                      const Topology& topology);

}  // namespace orderflow::broker
