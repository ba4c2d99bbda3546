// The contract topology (SPEC section 3) and declaring/checking it on a broker.
#include "broker/topology.hpp"

#include <amqp.h>  // before amqp_framing.h, which needs it first
#include <amqp_framing.h>
#include <fmt/format.h>

#include <mutex>
#include <optional>

#include "broker/impl/amqp_util.hpp"
#include "broker/impl/connection.hpp"

namespace orderflow::broker {
namespace {

constexpr amqp_channel_t kDeclareChannel = 1;
constexpr int64_t kStreamMaxBytes = 1'000'000'000;    // 1 GB kept for replay...
constexpr int64_t kStreamSegmentBytes = 100'000'000;  // ...trimmed in 100 MB steps
constexpr const char* kStreamMaxAge = "7D";

struct WorkQueue {
    QueueName name;
    std::vector<std::string> keys;
};

std::vector<WorkQueue> ContractWorkQueues() {
    return {
        {kInventoryQueue, {"order.placed"}},
        {kNotificationQueue, {"inventory.reserved", "inventory.rejected"}},
        {kOrderStatusQueue, {"inventory.*", "notification.sent"}},
    };
}

std::string DeclareError(std::string_view what, const std::string& name, const std::string& error) {
    if (error.find("406") != std::string::npos) {
        // RabbitMQ names the argument: "inequivalent arg 'x-dead-letter-strategy' for queue
        // ... received ... but current is ...". A queue's arguments cannot change in place.
        return fmt::format(
            "TOPOLOGY_MISMATCH: {} '{}' already exists with other properties or arguments: {}. "
            "It was probably declared by an older orderflow; `orderflowctl topology migrate` "
            "recreates it with the current arguments and keeps its messages (README: "
            "\"Migrating an older topology\")",
            what, name, error);
    }
    return fmt::format("cannot declare {} '{}': {}", what, name, error);
}

}  // namespace

QueueName DeadLetterQueue(const QueueName& work_queue) { return {work_queue.value + ".dlq"}; }

QueueName RetryQueue(const QueueName& work_queue, int level) {
    return {fmt::format("{}.retry.{}", work_queue.value, level)};
}

std::vector<QueueName> WorkQueues() {
    std::vector<QueueName> out;
    for (const auto& queue : ContractWorkQueues()) out.push_back(queue.name);
    return out;
}

Topology ContractTopology(int retry_levels) {
    retry_levels = std::max(1, retry_levels);
    Topology topology;
    topology.exchanges = {{kEventsExchange, "topic"}, {kDeadLetterExchange, "direct"}};
    // Dead-lettering is at-least-once (SPEC 9): the broker keeps a dead letter in the source
    // queue until the target queue confirmed it, so losing a node on the way loses nothing.
    // RabbitMQ honours that strategy only with overflow reject-publish (with drop-head it
    // falls back to at-most-once); no length limit is set, so nothing is ever rejected.
    const FieldTable at_least_once{{"x-dead-letter-strategy", "at-least-once"},
                                   {"x-overflow", "reject-publish"}};
    auto with = [&](FieldTable arguments) {
        arguments.insert(at_least_once.begin(), at_least_once.end());
        return arguments;
    };
    for (const auto& [queue, keys] : ContractWorkQueues()) {
        topology.queues.push_back(
            {queue, with({{"x-queue-type", "quorum"},
                          {"x-delivery-limit", kDeliveryLimit},
                          {"x-dead-letter-exchange", kDeadLetterExchange.value},
                          {"x-dead-letter-routing-key", queue.value}})});
        for (const auto& key : keys) {
            topology.bindings.push_back({queue, kEventsExchange, RoutingKey{key}});
        }
        const auto dlq = DeadLetterQueue(queue);
        topology.queues.push_back({dlq, {{"x-queue-type", "quorum"}}});
        topology.bindings.push_back({dlq, kDeadLetterExchange, RoutingKey{queue.value}});
        // Delay queues: no consumers, no bindings. A message enters through the default
        // exchange (routing key = this queue's name) with a per-message expiration; on
        // expiry the broker dead-letters it through the default exchange to Q alone.
        // Replicated (quorum) so that a scheduled retry survives the loss of a node;
        // per-message TTL on quorum queues arrived in 3.10 (verified on 3.10.8, with
        // at-least-once dead-lettering to the default exchange: README).
        for (int level = 1; level <= retry_levels; ++level) {
            topology.queues.push_back(
                {RetryQueue(queue, level), with({{"x-queue-type", "quorum"},
                                                 {"x-dead-letter-exchange", ""},
                                                 {"x-dead-letter-routing-key", queue.value}})});
        }
    }
    topology.queues.push_back({kEventStream,
                               {{"x-queue-type", "stream"},
                                {"x-max-age", kStreamMaxAge},
                                {"x-max-length-bytes", kStreamMaxBytes},
                                {"x-stream-max-segment-size-bytes", kStreamSegmentBytes}}});
    topology.bindings.push_back({kEventStream, kEventsExchange, RoutingKey{"#"}});
    return topology;
}

namespace impl {

namespace {

constexpr uint16_t kAccessRefused = 403;

// What the broker last refused of this process's topology (missing, declared with other
// arguments, not allowed), empty once a declare succeeded: every connection of a process
// declares the same topology, so one slot serves them all. Written by the connection
// threads, read by /readyz's thread: guarded by its mutex.
class ProblemSlot final {
  public:
    static ProblemSlot& Get() {
        static ProblemSlot slot;
        return slot;
    }
    void Set(std::string text) {
        std::lock_guard lock(mutex_);
        text_ = std::move(text);
    }
    std::string Value() {
        std::lock_guard lock(mutex_);
        return text_;
    }

  private:
    std::mutex mutex_;
    std::string text_;
};

// A user without configure permission (SPEC section 11) may not declare, not even what
// exists already; passive declares need no permission. Checks that every exchange and
// queue exists (a missing one closes the channel with 404, so the channel is opened again
// after each); bindings cannot be checked passively in AMQP 0-9-1. On success the channel
// is open again for the caller.
std::expected<void, std::string> CheckPassivelyOn(Connection& connection, amqp_channel_t channel,
                                                  const Topology& topology, bool& answered) {
    auto* state = connection.Get();
    std::vector<std::string> missing;
    auto probe = [&](const std::string& what, auto&& declare) -> std::expected<void, std::string> {
        if (auto opened = connection.OpenChannel(channel); !opened) {
            return std::unexpected(opened.error());
        }
        declare();
        const auto reply = amqp_get_rpc_reply(state);
        const auto code = ReplyCode(reply);
        if (auto error = connection.Check(channel, reply); !error.empty()) {
            if (code != 404) return std::unexpected(fmt::format("checking {}: {}", what, error));
            missing.push_back(what);
            return {};
        }
        connection.CloseChannel(channel);
        return {};
    };
    for (const auto& exchange : topology.exchanges) {
        auto checked = probe("exchange " + exchange.name.value, [&] {
            amqp_exchange_declare(state, channel, Bytes(exchange.name.value), Bytes(exchange.type),
                                  1, 1, 0, 0, amqp_empty_table);
        });
        if (!checked) return checked;
    }
    for (const auto& queue : topology.queues) {
        auto checked = probe("queue " + queue.name.value, [&] {
            amqp_queue_declare(state, channel, Bytes(queue.name.value), 1, 1, 0, 0,
                               amqp_empty_table);
        });
        if (!checked) return checked;
    }
    if (!missing.empty()) {
        answered = true;
        std::string list;
        for (const auto& item : missing) list += (list.empty() ? "" : ", ") + item;
        return std::unexpected(fmt::format(
            "the topology is incomplete and this user may not declare it (no configure "
            "permission): missing {}; an administrator creates it with `orderflowctl topology "
            "declare`",
            list));
    }
    if (auto opened = connection.OpenChannel(channel); !opened) {
        return std::unexpected(opened.error());
    }
    return {};
}

// Declares everything; `answered` tells a refusal by the broker (a reply code: missing,
// declared differently, not allowed) from a connection that failed under it.
std::expected<void, std::string> DeclareAll(Connection& connection, amqp_channel_t channel,
                                            const Topology& topology, bool check_if_refused,
                                            bool& answered) {
    auto* state = connection.Get();
    // After a 403 (no configure permission) the topology is checked passively instead.
    const auto refused = [&](const amqp_rpc_reply_t& reply) {
        return check_if_refused && ReplyCode(reply) == kAccessRefused;
    };
    // One declare's reply: nullopt to go on, else what DeclareAll returns (`describe` words
    // the broker's error).
    const auto settle =
        [&](const amqp_rpc_reply_t& reply,
            const auto& describe) -> std::optional<std::expected<void, std::string>> {
        const bool no_permission = refused(reply);
        const bool broker_refused = ReplyCode(reply) != 0;  // read before Check frees it
        auto error = connection.Check(channel, reply);
        if (error.empty()) return std::nullopt;
        if (no_permission) return CheckPassivelyOn(connection, channel, topology, answered);
        answered = broker_refused;
        return std::unexpected(describe(error));
    };
    for (const auto& exchange : topology.exchanges) {
        amqp_exchange_declare(state, channel, Bytes(exchange.name.value), Bytes(exchange.type), 0,
                              1, 0, 0, amqp_empty_table);
        if (auto done = settle(amqp_get_rpc_reply(state), [&](const std::string& error) {
                return DeclareError("exchange", exchange.name.value, error);
            })) {
            return *done;
        }
    }
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    struct PoolGuard {
        amqp_pool_t* pool;
        ~PoolGuard() { empty_amqp_pool(pool); }
    } guard{&pool};
    for (const auto& queue : topology.queues) {
        const auto arguments = ToAmqpTable(queue.arguments, &pool);
        amqp_queue_declare(state, channel, Bytes(queue.name.value), 0, 1, 0, 0, arguments);
        if (auto done = settle(amqp_get_rpc_reply(state), [&](const std::string& error) {
                return DeclareError("queue", queue.name.value, error);
            })) {
            return *done;
        }
    }
    for (const auto& binding : topology.bindings) {
        amqp_queue_bind(state, channel, Bytes(binding.queue.value), Bytes(binding.exchange.value),
                        Bytes(binding.key.value), amqp_empty_table);
        if (auto done = settle(amqp_get_rpc_reply(state), [&](const std::string& error) {
                return fmt::format("cannot bind queue '{}' to '{}' with '{}': {}",
                                   binding.queue.value, binding.exchange.value, binding.key.value,
                                   error);
            })) {
            return *done;
        }
    }
    return {};
}

}  // namespace

std::expected<void, std::string> DeclareOn(Connection& connection, amqp_channel_t channel,
                                           const Topology& topology, bool check_if_refused) {
    bool answered = false;
    auto declared = DeclareAll(connection, channel, topology, check_if_refused, answered);
    if (declared) {
        ProblemSlot::Get().Set({});
    } else if (answered) {
        ProblemSlot::Get().Set(declared.error());
    }
    return declared;
}

}  // namespace impl

std::string TopologyProblem() { return impl::ProblemSlot::Get().Value(); }

std::expected<void, std::string> DeclareTopology(const ConnectionOptions& options,
                                                 const Topology& topology) {
    auto connection = impl::Connection::Open(options);
    if (!connection) return std::unexpected(connection.error());
    if (auto opened = connection->OpenChannel(kDeclareChannel); !opened) {
        return std::unexpected(opened.error());
    }
    auto declared = impl::DeclareOn(*connection, kDeclareChannel, topology, false);
    connection->Close();
    return declared;
}

std::expected<CheckResult, std::string> CheckTopology(const ConnectionOptions& options,
                                                      const Topology& topology) {
    auto connection = impl::Connection::Open(options);
    if (!connection) return std::unexpected(connection.error());
    auto* state = connection->Get();
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    struct PoolGuard {
        amqp_pool_t* pool;
        ~PoolGuard() { empty_amqp_pool(pool); }
    } guard{&pool};

    // A failed declare closes its channel, so each probe gets a fresh one; the channel
    // number cycles because a closed number may be reused once the close is answered.
    amqp_channel_t channel = 0;
    std::string failure;
    // Returns the broker's complaint ("" if none); a 404 or 406 is an answer, anything else
    // (lost connection, no permission) is a failure of the check itself.
    auto probe = [&](auto&& declare) -> std::string {
        channel = static_cast<amqp_channel_t>(channel % 100 + 1);
        if (auto opened = connection->OpenChannel(channel); !opened) {
            failure = opened.error();
            return {};
        }
        declare();
        const auto reply = amqp_get_rpc_reply(state);
        const auto code = impl::ReplyCode(reply);
        auto error = connection->Check(channel, reply);
        if (error.empty()) {
            connection->CloseChannel(channel);
        } else if (code != 404 && code != 406) {
            failure = error;
        }
        return error;
    };

    CheckResult result;
    for (const auto& exchange : topology.exchanges) {
        const auto name = impl::Bytes(exchange.name.value);
        const auto type = impl::Bytes(exchange.type);
        auto error = probe([&] {
            amqp_exchange_declare(state, channel, name, type, 1, 1, 0, 0, amqp_empty_table);
        });
        if (!failure.empty()) break;
        if (!error.empty()) {
            result.missing.push_back("exchange " + exchange.name.value);
            continue;
        }
        // Passive declares ignore type and arguments; an equal active declare of an existing
        // exchange changes nothing and answers 406 if it differs.
        error = probe([&] {
            amqp_exchange_declare(state, channel, name, type, 0, 1, 0, 0, amqp_empty_table);
        });
        if (!failure.empty()) break;
        if (!error.empty()) {
            result.missing.push_back(
                fmt::format("exchange {} (declared differently: {})", exchange.name.value, error));
        }
    }
    for (const auto& queue : topology.queues) {
        if (!failure.empty()) break;
        const auto name = impl::Bytes(queue.name.value);
        auto error =
            probe([&] { amqp_queue_declare(state, channel, name, 1, 1, 0, 0, amqp_empty_table); });
        if (!failure.empty()) break;
        if (!error.empty()) {
            result.missing.push_back("queue " + queue.name.value);
            continue;
        }
        const auto arguments = impl::ToAmqpTable(queue.arguments, &pool);
        error = probe([&] { amqp_queue_declare(state, channel, name, 0, 1, 0, 0, arguments); });
        if (!failure.empty()) break;
        if (!error.empty()) {
            result.missing.push_back(fmt::format("queue {} (declared with other arguments: {})",
                                                 queue.name.value, error));
        }
    }
    // AMQP 0-9-1 has no passive bind; bindings are not checked (queue.bind would create them).
    connection->Close();
    if (!failure.empty()) return std::unexpected("topology check failed: " + failure);
    return result;
}

}  // namespace orderflow::broker
