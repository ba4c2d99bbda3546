// orderflowctl's command line (CLI11): options and subcommands mapped onto commands.hpp.
#include "ctl/cli.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <functional>

#include "broker/node_list.hpp"
#include "ctl/commands.hpp"
#if defined(ORDERFLOW_CTL_WITH_LOAD)
#include "load/broker_bench.hpp"
#include "load/command.hpp"
#endif

namespace orderflow::ctl {
namespace {

// What each subcommand needs of the broker user of --amqp-url (SPEC section 11). Passive
// declares (depths, existence) need no permission on RabbitMQ 3.10.
constexpr const char* kPermissionsHelp =
    R"(Broker permissions each subcommand needs (RabbitMQ configure/write/read, on the vhost of --amqp-url):
  topology declare  configure on every exchange and queue of the topology, write on the
                    queues and read on the exchanges for the bindings: an administrator
  topology check    configure (each item is declared again with its arguments to compare)
  status            none over AMQP (passive declares); the --mgmt-url user needs the
                    management tag "monitoring" (or more)
  dlq list          none (passive declares)
  dlq show          read on Q.dlq (messages are fetched, then returned)
  dlq replay        read on Q.dlq, write on amq.default (republished to Q itself)
  dlq purge         read on Q.dlq
  publish           write on the exchange orders
  load              none (HTTP only); orders may need --header 'Authorization: Bearer <key>'
  broker-bench      configure, write and read on the queues and exchange it creates
The service users of `scripts/broker.sh --users` may do none of the writes above:
run these with the administrator's URL (scripts/broker.sh env); for dlq show, replay
and purge, the console's user (ORDERFLOW_CONSOLE_AMQP_URL) is enough.
)";

void AddDlqQueue(CLI::App& command, DlqOptions& options) {
    command.add_option("QUEUE", options.queue, "Work queue (or its .dlq name)")->required();
}

}  // namespace

int Run(int argc, char** argv) {
    CLI::App app{
        "orderflowctl: operator CLI for orderflow (status, dead letters, publish, load, topology)"};
    app.require_subcommand(1);
    app.footer(kPermissionsHelp);
    app.fallthrough();  // global options may follow the subcommand too
    GlobalOptions global;
    // Defaults shown by --help with their password masked (SPEC section 11).
    app.add_option("--amqp-url", global.amqp_url,
                   "Broker URL (amqps:// for TLS); the nodes of a cluster separated by commas")
        ->envname("ORDERFLOW_AMQP_URL")
        ->check([](const std::string& urls) {
            auto nodes = broker::ParseNodeUrls(urls);
            return nodes ? std::string() : nodes.error();
        })
        ->default_str(RedactUrl(global.amqp_url));
    app.add_option("--mgmt-url", global.mgmt_url, "RabbitMQ management API (status)")
        ->envname("ORDERFLOW_MGMT_URL")
        ->default_str(RedactUrl(global.mgmt_url));
    app.add_option("--amqp-ca-file", global.amqp_ca_file,
                   "PEM CA that signs the broker's certificate, for amqps:// and an https:// "
                   "management URL (empty: the system trust store)")
        ->envname("ORDERFLOW_AMQP_CA_FILE");

    std::function<int()> command;  // set by the subcommand that was chosen

    // topology declare|check
    auto* topology = app.add_subcommand("topology", "Declare or check the broker topology");
    topology->require_subcommand(1);
    TopologyOptions topology_options;
    topology
        ->add_option("--max-attempts", topology_options.max_attempts,
                     "Deliveries before a transient failure is dead-lettered (as the services)")
        ->envname("ORDERFLOW_MAX_ATTEMPTS")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    topology
        ->add_option("--retry-delays-ms", topology_options.retry_delays_ms,
                     "Retry delays (as the services): one delay queue per level")
        ->envname("ORDERFLOW_RETRY_DELAYS_MS")
        ->capture_default_str();
    topology->add_subcommand("declare", "Declare everything (idempotent)")->callback([&] {
        command = [&] { return RunTopology(global, topology_options); };
    });
    topology->add_subcommand("check", "Report what is missing or different (exit 1 if anything)")
        ->callback([&] {
            topology_options.check = true;
            command = [&] { return RunTopology(global, topology_options); };
        });
    topology
        ->add_subcommand("migrate",
                         "Recreate queues declared with older arguments, keeping their messages "
                         "(services stopped)")
        ->callback([&] { command = [&] { return RunTopologyMigrate(global, topology_options); }; });

    // publish
    auto* publish = app.add_subcommand("publish", "Publish one raw message to the orders exchange");
    PublishOptions publish_options;
    publish->add_option("--routing-key", publish_options.message.routing_key, "e.g. order.placed")
        ->required();
    auto* body = publish->add_option("--body", publish_options.body, "Message body (JSON)");
    auto* file = publish->add_option("--file", publish_options.file,
                                     "Read the body from a file (- for stdin)");
    body->excludes(file);
    auto* message_id = publish->add_option("--message-id", publish_options.message.message_id,
                                           "Default: the body's event_id, else a new UUID");
    publish
        ->add_flag("--no-message-id", publish_options.message.no_message_id,
                   "Send without a message_id (poison demo)")
        ->excludes(message_id);
    publish->add_option("--type", publish_options.message.type, "Default: the body's event_type");
    publish->add_option("--header", publish_options.message.headers, "name=value (repeatable)");
    publish->callback([&] {
        if (!publish_options.body && !publish_options.file) {
            throw CLI::RequiredError("--body or --file");
        }
        command = [&] { return RunPublish(global, publish_options); };
    });

    // dlq list|show|replay|purge
    auto* dlq = app.add_subcommand("dlq", "Dead-letter queues");
    dlq->require_subcommand(1);
    bool list_json = false;
    auto* list = dlq->add_subcommand("list", "Depth of each dead-letter queue");
    list->add_flag("--json", list_json, "JSON output");
    list->callback([&] { command = [&] { return RunDlqList(global, list_json); }; });

    DlqOptions show_options;
    auto* show = dlq->add_subcommand("show", "Browse dead letters without removing them");
    AddDlqQueue(*show, show_options);
    show->add_option("--limit", show_options.limit, "At most N (default 10)")
        ->check(CLI::PositiveNumber);
    show->add_flag("--json", show_options.json, "JSON output");
    show->callback([&] { command = [&] { return RunDlqShow(global, show_options); }; });

    DlqOptions replay_options;
    auto* replay = dlq->add_subcommand("replay", "Republish dead letters to their work queue");
    AddDlqQueue(*replay, replay_options);
    replay->add_option("--limit", replay_options.limit, "Replay at most N (default all)")
        ->check(CLI::PositiveNumber);
    replay->add_option("--message-id", replay_options.selection.message_id, "Only this message");
    replay->add_option("--kind", replay_options.selection.kind, "Only poison or exhausted ones")
        ->check(CLI::IsMember({"poison", "exhausted"}));
    replay->add_flag("--force", replay_options.force,
                     fmt::format("Replay even messages replayed {} times already", kMaxReplays));
    replay->callback([&] { command = [&] { return RunDlqReplay(global, replay_options); }; });

    DlqOptions purge_options;
    auto* purge = dlq->add_subcommand("purge", "Delete every message of a dead-letter queue");
    AddDlqQueue(*purge, purge_options);
    purge->add_flag("--yes", purge_options.yes, "Really delete them");
    purge->callback([&] { command = [&] { return RunDlqPurge(global, purge_options); }; });

    // status
    auto* status =
        app.add_subcommand("status", "Queues: depth, consumers, rates, DLQ, time to drain");
    StatusOptions status_options;
    status->add_flag("--watch", status_options.watch, "Redraw until Ctrl-C");
    status->add_option("--interval", status_options.interval_seconds, "Seconds between samples")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    status->add_flag("--json", status_options.json, "Print JSON once");
    status->callback([&] { command = [&] { return RunStatus(global, status_options); }; });

    // fill-history: N minutes of orders written onto the stream (scripts/bench.sh (d)).
    auto* fill = app.add_subcommand(
        "fill-history",
        "Write the events of N minutes of orders straight onto the stream orders.events");
    FillHistoryOptions fill_options;
    fill->add_option("--minutes", fill_options.minutes, "Minutes of event time, ending now")
        ->check(CLI::Range(0.01, 10080.0))
        ->capture_default_str();
    fill->add_option("--rate", fill_options.rate, "Orders per second of event time")
        ->check(CLI::Range(0.01, 100000.0))
        ->capture_default_str();
    fill->add_option("--seed", fill_options.seed, "Random seed of the ids")->capture_default_str();
    fill->callback([&] { command = [&] { return RunFillHistory(global, fill_options); }; });

#if defined(ORDERFLOW_CTL_WITH_LOAD)
    // load --url URL [--rate R | --concurrency C] --duration D [--csv F]: src/load.
    load::AddLoadCommand(app, command);
    // broker-bench: the broker's own publish-with-confirms and consume rates (scripts/bench.sh).
    load::AddBrokerBenchCommand(app, command, global.amqp_url, &global.amqp_ca_file);
#endif

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);  // prints help, or the error and a hint
        return code == static_cast<int>(CLI::ExitCodes::Success) ? kExitOk : kExitUsage;
    }
    try {
        return command ? command() : kExitUsage;
    } catch (const std::exception& e) {
        return Fail(e.what());
    }
}

}  // namespace orderflow::ctl
