// `orderflowctl topology migrate`: brings a broker that holds an older orderflow topology
// (queues declared with other arguments, e.g. without at-least-once dead-lettering, or
// classic delay queues) to the current one without losing a message. A queue's arguments
// cannot change in place, so each differing queue Q is recreated:
//   1. every message of Q is copied to Q.migrating (a quorum queue) with a publisher
//      confirm, and only then acked on Q;
//   2. Q is deleted and declared with the current arguments (and its bindings);
//   3. the messages are moved back the same way, and Q.migrating is deleted.
// Interrupted at any point, every message is in Q or in Q.migrating (a copy may be in both:
// consumers drop duplicates by message id); running migrate again finishes the job. A
// message of a delay queue gets its full delay again once back (its TTL restarts).
// Run it with the services stopped: a queue that has consumers is left alone.
#include <fmt/format.h>

#include <cstdio>

#include "broker/client.hpp"
#include "broker/topology.hpp"
#include "ctl/commands.hpp"
#include "service/config.hpp"
#include "service/retry.hpp"

namespace orderflow::ctl {
namespace {

constexpr const char* kHoldingSuffix = ".migrating";
constexpr const char* kExpirationHeader = "x-orderflow-migrated-expiration";

broker::QueueName Holding(const broker::QueueName& queue) { return {queue.value + kHoldingSuffix}; }

// Moves every message of `from` to `to` through the default exchange: confirm, then ack.
std::expected<size_t, std::string> MoveAll(broker::Client& client, const broker::QueueName& from,
                                           const broker::QueueName& to) {
    size_t moved = 0;
    while (true) {
        auto got = client.Get(from);
        if (!got) return std::unexpected(got.error());
        if (!*got) return moved;
        const auto& delivery = **got;
        broker::OutgoingMessage copy;
        copy.exchange = broker::ExchangeName{""};
        copy.routing_key = broker::RoutingKey{to.value};
        copy.properties = delivery.properties;
        copy.body = delivery.body;
        // A message waiting in a delay queue must not expire in the holding queue (which
        // has no dead-letter target): its expiration rides in a header until it is back.
        if (to.value.ends_with(kHoldingSuffix)) {
            if (!copy.properties.expiration.empty()) {
                copy.properties.headers[kExpirationHeader] = copy.properties.expiration;
                copy.properties.expiration.clear();
            }
        } else if (const auto* kept = copy.properties.Header(kExpirationHeader)) {
            copy.properties.expiration = *kept;
            copy.properties.headers.erase(kExpirationHeader);
        }
        if (const auto status = client.Publish(copy); status != broker::PublishStatus::kConfirmed) {
            client.Nack(delivery.delivery_tag, true);
            return std::unexpected(fmt::format("copying a message from {} to {}: {}", from.value,
                                               to.value, broker::StatusName(status)));
        }
        if (auto acked = client.Ack(delivery.delivery_tag); !acked) {
            return std::unexpected(acked.error());
        }
        ++moved;
    }
}

}  // namespace

int RunTopologyMigrate(const GlobalOptions& global, const TopologyOptions& options) {
    const auto contract = ContractTopologyOf(options);
    if (!contract) return kExitUsage;
    const auto& topology = *contract;
    const auto connection = ConnectionFor(global, "topology migrate");
    auto client = Connect(global, "topology migrate");
    if (!client) return Fail(client.error());

    int problems = 0;
    for (const auto& queue : topology.queues) {
        const auto holding = Holding(queue.name);
        auto current = client->Inspect(queue.name);
        if (!current) return Fail(current.error());
        // Does Q exist with other arguments? An equal declare is a no-op, a different one 406.
        bool differs = false;
        if (*current) {
            broker::Topology one;
            one.queues.push_back(queue);
            auto checked = broker::CheckTopology(connection, one);
            if (!checked) return Fail(checked.error());
            differs = !checked->missing.empty();
        }
        auto held = client->Inspect(holding);
        if (!held) return Fail(held.error());
        if (!differs && !*held) continue;
        if (*current && (*current)->consumers > 0) {
            fmt::print("skipped {}: {} consumer(s) attached; stop the services first\n",
                       queue.name.value, (*current)->consumers);
            ++problems;
            continue;
        }
        if (differs) {
            if (!*held) {
                if (auto declared = client->DeclareQueue(holding, {{"x-queue-type", "quorum"}});
                    !declared) {
                    return Fail(declared.error());
                }
            }
            auto out = MoveAll(*client, queue.name, holding);
            if (!out) return Fail(out.error());
            if (auto deleted = client->DeleteQueue(queue.name); !deleted) {
                return Fail(deleted.error());
            }
            fmt::print("{}: {} message(s) set aside in {}, queue deleted\n", queue.name.value, *out,
                       holding.value);
        }
        broker::Topology one;
        one.queues.push_back(queue);
        for (const auto& binding : topology.bindings) {
            if (binding.queue == queue.name) one.bindings.push_back(binding);
        }
        if (auto declared = broker::DeclareTopology(connection, one); !declared) {
            return Fail(declared.error());
        }
        // A new connection: RabbitMQ 3.10 crashes a channel that published to a classic
        // queue and then publishes to the quorum queue of the same name that replaced it.
        client = Connect(global, "topology migrate");
        if (!client) return Fail(client.error());
        auto back = MoveAll(*client, holding, queue.name);
        if (!back) return Fail(back.error());
        if (auto deleted = client->DeleteQueue(holding); !deleted) return Fail(deleted.error());
        fmt::print("{}: recreated with the current arguments, {} message(s) moved back\n",
                   queue.name.value, *back);
    }
    // Exchanges and bindings that are missing, as `declare` would.
    if (auto declared = broker::DeclareTopology(connection, topology); !declared) {
        return Fail(declared.error());
    }
    if (problems > 0) {
        fmt::print("topology migrate: {} queue(s) not migrated\n", problems);
        return kExitFailure;
    }
    fmt::print("topology up to date\n");
    return kExitOk;
}

}  // namespace orderflow::ctl
