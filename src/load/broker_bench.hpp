// `orderflowctl broker-bench`: what the broker itself can do on this machine, measured with
// our own broker layer (src/broker's Publisher and Consumer, as the services use them), so
// that pipeline figures can be stated as a fraction of it. It publishes N persistent
// messages with confirms to a fresh queue of its own (quorum by default, like the work
// queues), then consumes them with manual batched acks, and deletes the queue.
//
// With --as-ingress it publishes the way the ingress publishes an OrderPlaced, so that
// POST /orders can be stated as a fraction of a fair ceiling: through a topic exchange to a
// quorum queue declared with inventory.order-placed's arguments and to a stream declared
// with orders.events' arguments, a fresh OrderPlaced body and ids per message, the same
// properties (message_id, correlation_id, type, app_id, timestamp, traceparent header),
// persistent and mandatory, with at most --in-flight unconfirmed (the load's client count).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

#include "broker/message.hpp"

namespace orderflow::load {

struct BrokerBenchArgs {
    const std::string* amqp_url = nullptr;      // orderflowctl's global --amqp-url
    const std::string* amqp_ca_file = nullptr;  // and --amqp-ca-file (amqps://)
    uint64_t messages = 20000;
    size_t body_size = 0;       // 0: an OrderPlaced event of the usual size
    uint32_t in_flight = 4096;  // unconfirmed messages on the wire (publisher window)
    uint32_t prefetch = 200;    // as ORDERFLOW_PREFETCH's default
    uint32_t batch_max = 200;   // as the services' consumer batch
    std::string queue_type = "quorum";
    bool stream = false;      // also route every message to a stream (as orders.events)
    bool as_ingress = false;  // publish as the ingress does (implies stream)
    double timeout_s = 120;   // for each phase
    bool json = false;
};

// One message as the ingress publishes an OrderPlaced (src/service/ingress_api.cpp, SPEC
// section 4): a fresh event and order id, the body encoded from the event, message_id =
// event_id, correlation_id = order id, type, app_id "ingress", a traceparent header,
// persistent and mandatory (the publisher adds the timestamp). Exchange and key are left
// to the caller.
broker::OutgoingMessage IngressStyleMessage(uint64_t seq);

// 0 on success, 1 when the broker cannot be reached or a phase fails or times out.
int RunBrokerBench(const BrokerBenchArgs& args, std::ostream& out, std::ostream& err);

// Adds the `broker-bench` subcommand; like AddLoadCommand, selecting it sets `command`.
CLI::App* AddBrokerBenchCommand(CLI::App& app, std::function<int()>& command,
                                const std::string& amqp_url,
                                const std::string* amqp_ca_file = nullptr);

}  // namespace orderflow::load
