// The orderflowctl commands (SPEC section 7), each a function of its parsed options that
// returns the exit status; cli.cpp only maps the command line onto these structs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "broker/topology.hpp"
#include "ctl/common.hpp"
#include "ctl/messages.hpp"

namespace orderflow::ctl {

struct TopologyOptions {
    bool check = false;  // false: declare
    int max_attempts = 4;
    std::string retry_delays_ms = "1000,5000,25000";
};
int RunTopology(const GlobalOptions& global, const TopologyOptions& options);
// The topology the services declare with these retry settings; nullopt (after saying why on
// stderr) when --retry-delays-ms does not parse.
std::optional<broker::Topology> TopologyOf(const TopologyOptions& options);
// Recreates the queues declared with older arguments, keeping their messages.
int RunTopologyMigrate(const GlobalOptions& global, const TopologyOptions& options);

struct PublishOptions {
    RawPublish message;
    std::optional<std::string> body;
    std::optional<std::string> file;  // "-" reads stdin
};
int RunPublish(const GlobalOptions& global, const PublishOptions& options);

struct DlqOptions {
    std::string queue;  // work queue or its .dlq name
    std::optional<size_t> limit;
    bool json = false;
    Selection selection;
    bool force = false;
    bool yes = false;
};
int RunDlqList(const GlobalOptions& global, bool json);
int RunDlqShow(const GlobalOptions& global, const DlqOptions& options);
int RunDlqReplay(const GlobalOptions& global, const DlqOptions& options);
int RunDlqPurge(const GlobalOptions& global, const DlqOptions& options);

struct StatusOptions {
    bool watch = false;
    double interval_seconds = 1.0;
    bool json = false;
};
int RunStatus(const GlobalOptions& global, const StatusOptions& options);

struct FillHistoryOptions {
    double minutes = 15;
    double rate = 50;  // orders per second of event time
    uint64_t seed = 1;
};
// The history of N minutes of orders, written straight onto orders.events (bench, tests).
int RunFillHistory(const GlobalOptions& global, const FillHistoryOptions& options);

}  // namespace orderflow::ctl
