// `orderflowctl topology declare|check`: the contract topology of SPEC section 3, with as
// many delay queues per work queue as the services' retry settings need.
#include <fmt/format.h>

#include <cstdio>

#include "broker/topology.hpp"
#include "ctl/commands.hpp"
#include "service/config.hpp"
#include "service/retry.hpp"

namespace orderflow::ctl {

std::optional<broker::Topology> ContractTopologyOf(const TopologyOptions& options) {
    // Same settings, same parsing as the services, so both agree on the delay queues.
    service::RetryPolicy policy;
    policy.max_attempts = options.max_attempts;
    if (!service::ParseDelays(options.retry_delays_ms, policy.delays)) {
        fmt::print(stderr, "orderflowctl: --retry-delays-ms '{}': expected e.g. 1000,5000,25000\n",
                   options.retry_delays_ms);
        return std::nullopt;
    }
    return broker::ContractTopology(policy.Levels());
}

int RunTopology(const GlobalOptions& global, const TopologyOptions& options) {
    const auto contract = ContractTopologyOf(options);
    if (!contract) return kExitUsage;
    const auto& topology = *contract;
    const auto connection =
        ConnectionFor(global, options.check ? "topology check" : "topology declare");

    if (!options.check) {
        if (auto declared = broker::DeclareTopology(connection, topology); !declared) {
            return Fail(fmt::format("topology declare on {}: {}", RedactUrl(global.amqp_url),
                                    declared.error()));
        }
        fmt::print("declared {} exchanges, {} queues, {} bindings\n", topology.exchanges.size(),
                   topology.queues.size(), topology.bindings.size());
        return kExitOk;
    }

    auto checked = broker::CheckTopology(connection, topology);
    if (!checked) {
        return Fail(
            fmt::format("topology check on {}: {}", RedactUrl(global.amqp_url), checked.error()));
    }
    for (const auto& missing : checked->missing) fmt::print("missing {}\n", missing);
    if (!checked->missing.empty()) {
        fmt::print(
            "topology incomplete: {} problem(s); `orderflowctl topology declare` fixes "
            "what is missing\n",
            checked->missing.size());
        return kExitFailure;
    }
    fmt::print("topology ok: {} exchanges, {} queues, {} bindings\n", topology.exchanges.size(),
               topology.queues.size(), topology.bindings.size());
    return kExitOk;
}

}  // namespace orderflow::ctl
