// The JSON documents of the console's read API, built from what the broker sampler saw:
// GET /api/overview (queues, stream, services and their replicas) and GET /api/dead-letters
// (dead letters grouped by queue, kind and reason). Pure functions of their inputs.
#pragma once

#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/message.hpp"
#include "console/live_model.hpp"
#include "ctl/status.hpp"

namespace orderflow::console {

// One process of a service, as the broker lists its connections: each service names its
// connections "orderflow-<service> <role> (<host>, pid <pid>)".
struct Replica {
    std::string service;  // "inventory"
    std::string host;
    std::string pid;
    std::vector<std::string> roles;     // "consumer", "publisher", "stream", ...
    std::vector<std::string> consumes;  // queues it has a consumer on
};
// From GET /api/vhosts/<vhost>/connections and GET /api/consumers/<vhost> (JSON arrays).
std::expected<std::vector<Replica>, std::string> ParseReplicas(std::string_view connections_json,
                                                               std::string_view consumers_json);

struct OverviewInput {
    int64_t now_ms = 0;
    bool read_only = true;
    std::string vhost;
    std::optional<ctl::StatusSnapshot> status;  // nullopt: the broker did not answer
    std::string status_error;
    std::optional<std::vector<Replica>> replicas;  // nullopt: the management API did not
    std::string replicas_error;
    // Stream arrival rates (messages/s) into each work queue, by queue name.
    std::map<std::string, double> in_rates;
    LiveModel::Totals seen;
    size_t orders_kept = 0;
    // The last offset of orders.events the console read: exact and immediate, where the
    // broker's message count of a stream is refreshed only now and then.
    std::optional<int64_t> stream_last_offset;
};
std::string OverviewJson(const OverviewInput& input);

struct DlqBrowse {
    std::string queue;  // work queue
    std::string dlq;
    int64_t messages = 0;                   // depth (passive declare)
    std::vector<broker::Delivery> letters;  // the first ones, browsed
    std::string error;
};
std::string DeadLettersJson(int64_t now_ms, const std::vector<DlqBrowse>& browsed,
                            size_t browse_limit);

}  // namespace orderflow::console
