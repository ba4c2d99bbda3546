// `orderflowctl broker-bench`: raw publish-with-confirms and consume rates; see
// broker_bench.hpp.
//
// Threading: the calling thread publishes and waits; confirms arrive on the Publisher's
// thread and deliveries on the Consumer's, which only bump atomics and, at the last
// message, fulfil a promise the calling thread waits on.
#include "load/broker_bench.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <expected>
#include <future>
#include <iostream>
#include <thread>

#include "broker/client.hpp"
#include "broker/consumer.hpp"
#include "broker/publisher.hpp"
#include "broker/topology.hpp"
#include "events/codec.hpp"
#include "events/events.hpp"
#include "events/ids.hpp"

namespace orderflow::load {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;

// The size of a typical OrderPlaced event (SPEC section 4), so that the broker moves what
// the pipeline moves.
std::string SampleBody(size_t size) {
    std::string body =
        fmt::format(R"({{"event_id":"{}","event_type":"OrderPlaced","schema_version":1,)"
                    R"("occurred_at":"2026-11-21T12:00:00.000Z","order_id":"{}","user_id":"bench",)"
                    R"("items":[{{"sku":"burger","quantity":1}}]}})",
                    events::NewUuid(), events::NewUuid());
    if (size > 0) body.resize(size, ' ');
    return body;
}

bool WaitConnected(const auto& endpoint, std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!endpoint.Connected()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

double Rate(uint64_t count, Clock::duration elapsed) {
    const double seconds = std::chrono::duration<double>(elapsed).count();
    return seconds > 0 ? static_cast<double>(count) / seconds : 0.0;
}

// Where the messages go: straight to the queue (default exchange), or through amq.topic
// to the queue and a stream under keys of this run's own.
struct Route {
    broker::ExchangeName exchange{""};
    broker::RoutingKey routing_key;
    broker::QueueName queue;
    broker::QueueName stream;  // empty without a stream
};

// The declared arguments of one queue of the contract topology (SPEC section 3), so that
// the bench's queues cost the broker what the pipeline's do.
broker::FieldTable ContractArguments(const broker::QueueName& name) {
    for (auto& queue : broker::ContractTopology(1).queues) {
        if (queue.name == name) return std::move(queue.arguments);
    }
    return {};
}

}  // namespace

broker::OutgoingMessage IngressStyleMessage(uint64_t seq) {
    events::OrderPlaced order;
    order.envelope.event_id = events::NewUuid();
    order.envelope.type = events::EventType::kOrderPlaced;
    order.envelope.occurred_at = events::FormatTime(std::chrono::system_clock::now());
    order.envelope.order_id = events::NewUuid();
    order.user_id = fmt::format("bench{}", seq);
    order.items = {events::Item{"burger", 1}};
    broker::OutgoingMessage message;
    message.properties.message_id = order.envelope.event_id;
    message.properties.correlation_id = order.envelope.order_id;
    message.properties.type = std::string(events::TypeName(order.envelope.type));
    message.properties.app_id = "ingress";
    message.properties.headers["traceparent"] = events::FormatTraceparent(events::NewTrace());
    message.body = events::Encode(order);
    message.mandatory = true;
    return message;
}

namespace {

struct Phase {
    uint64_t done = 0;
    uint64_t failed = 0;
    Clock::duration elapsed{};
};

std::expected<Phase, std::string> PublishPhase(const BrokerBenchArgs& args,
                                               const broker::ConnectionOptions& connection,
                                               const Route& route) {
    broker::Publisher::Options options;
    options.connection = connection;
    options.connection.connection_name = "orderflowctl broker-bench publisher";
    options.app_id = "orderflowctl-broker-bench";
    options.max_in_flight = args.in_flight;
    broker::Publisher publisher(std::move(options));
    publisher.Start();
    if (!WaitConnected(publisher, std::chrono::seconds(10))) {
        return std::unexpected("the publisher could not connect");
    }
    std::atomic<uint64_t> confirmed{0};
    std::atomic<uint64_t> failed{0};
    std::atomic<uint64_t> settled{0};
    std::promise<void> all_settled;
    const std::string body = SampleBody(args.body_size);
    const auto start = Clock::now();
    for (uint64_t i = 0; i < args.messages; ++i) {
        broker::OutgoingMessage message;
        if (args.as_ingress) {
            message = IngressStyleMessage(i);
        } else {
            message.properties.message_id = fmt::format("bench-{}", i);
            message.properties.type = "OrderPlaced";
            message.body = body;
        }
        message.exchange = route.exchange;
        message.routing_key = route.routing_key;
        message.mandatory = true;
        publisher.Publish(std::move(message), [&](broker::PublishStatus status) {
            (status == broker::PublishStatus::kConfirmed ? confirmed : failed)
                .fetch_add(1, std::memory_order_relaxed);
            if (settled.fetch_add(1) + 1 == args.messages) all_settled.set_value();
        });
    }
    const auto limit = std::chrono::duration<double>(args.timeout_s);
    const bool done = all_settled.get_future().wait_for(limit) == std::future_status::ready;
    Phase phase{confirmed.load(), failed.load(), Clock::now() - start};
    publisher.Stop(std::chrono::seconds(1));
    if (!done)
        return std::unexpected(
            fmt::format("publishing timed out ({} of {} settled)", settled.load(), args.messages));
    return phase;
}

std::expected<Phase, std::string> ConsumePhase(const BrokerBenchArgs& args,
                                               const broker::ConnectionOptions& connection,
                                               const broker::QueueName& queue, uint64_t expected) {
    std::atomic<uint64_t> received{0};
    std::promise<void> all_received;
    broker::Consumer::Options options;
    options.connection = connection;
    options.connection.connection_name = "orderflowctl broker-bench consumer";
    options.queue = queue;
    options.prefetch = static_cast<uint16_t>(args.prefetch);
    options.batch_max = args.batch_max;
    broker::Consumer consumer(std::move(options), [&](const std::vector<broker::Delivery>& batch,
                                                      std::vector<broker::Disposition>& out) {
        out.assign(batch.size(), broker::Disposition::kAck);
        const uint64_t before = received.fetch_add(batch.size());
        if (before < expected && before + batch.size() >= expected) {
            all_received.set_value();
        }
    });
    const auto start = Clock::now();
    consumer.Start();
    const auto limit = std::chrono::duration<double>(args.timeout_s);
    const bool done =
        expected == 0 || all_received.get_future().wait_for(limit) == std::future_status::ready;
    Phase phase{received.load(), 0, Clock::now() - start};
    consumer.Stop();
    if (!done)
        return std::unexpected(
            fmt::format("consuming timed out ({} of {} received)", received.load(), expected));
    return phase;
}

// Declares the queue (and the stream and bindings) of this run. Straight to the queue
// through the default exchange; with --stream or --as-ingress through amq.topic, to the
// queue under "<queue>.order.placed" and to the stream under "<queue>.#", as the `orders`
// exchange routes order.placed to inventory.order-placed and (with "#") to orders.events.
std::expected<void, std::string> SetUpRoute(broker::Client& client, const BrokerBenchArgs& args,
                                            const Route& route) {
    broker::FieldTable arguments;
    if (args.as_ingress) {
        arguments = ContractArguments(broker::kInventoryQueue);
        arguments["x-dead-letter-routing-key"] = route.queue.value;
    } else if (args.queue_type != "classic") {
        arguments["x-queue-type"] = args.queue_type;
    }
    if (auto declared = client.DeclareQueue(route.queue, arguments); !declared) {
        return std::unexpected("declare " + route.queue.value + ": " + declared.error());
    }
    if (route.stream.value.empty()) return {};
    auto stream_arguments = args.as_ingress ? ContractArguments(broker::kEventStream)
                                            : broker::FieldTable{{"x-queue-type", "stream"}};
    std::expected<void, std::string> ready = client.DeclareQueue(route.stream, stream_arguments);
    if (ready) ready = client.Bind(route.queue, route.exchange, route.routing_key);
    if (ready)
        ready =
            client.Bind(route.stream, route.exchange, broker::RoutingKey{route.queue.value + ".#"});
    if (!ready) return std::unexpected("stream set-up: " + ready.error());
    return {};
}

void TearDownRoute(broker::Client& client, const Route& route, std::ostream& err) {
    for (const auto* queue : {&route.queue, &route.stream}) {
        if (queue->value.empty()) continue;
        if (auto deleted = client.DeleteQueue(*queue); !deleted) {
            err << "orderflowctl broker-bench: delete " << queue->value << ": " << deleted.error()
                << "\n";
        }
    }
}

}  // namespace

int RunBrokerBench(const BrokerBenchArgs& args, std::ostream& out, std::ostream& err) {
    broker::ConnectionOptions connection;
    if (args.amqp_url != nullptr) connection.url = *args.amqp_url;
    if (args.amqp_ca_file != nullptr) connection.tls_ca_file = *args.amqp_ca_file;
    auto client = broker::Client::Connect(connection);
    if (!client) {
        err << "orderflowctl broker-bench: " << client.error() << "\n";
        return kExitFailure;
    }
    Route route;
    route.queue = broker::QueueName{fmt::format("orderflow.bench.{}", events::NewUuid())};
    route.routing_key = broker::RoutingKey{route.queue.value};
    if (args.stream || args.as_ingress) {
        route.exchange = broker::ExchangeName{"amq.topic"};
        route.routing_key = broker::RoutingKey{route.queue.value + ".order.placed"};
        route.stream = broker::QueueName{route.queue.value + ".stream"};
    }
    if (auto ready = SetUpRoute(*client, args, route); !ready) {
        err << "orderflowctl broker-bench: " << ready.error() << "\n";
        TearDownRoute(*client, route, err);
        return kExitFailure;
    }
    auto published = PublishPhase(args, connection, route);
    std::expected<Phase, std::string> consumed = std::unexpected("not run");
    if (published) consumed = ConsumePhase(args, connection, route.queue, published->done);
    TearDownRoute(*client, route, err);
    if (!published || !consumed) {
        err << "orderflowctl broker-bench: " << (!published ? published.error() : consumed.error())
            << "\n";
        return kExitFailure;
    }
    const double publish_rate = Rate(published->done, published->elapsed);
    const double consume_rate = Rate(consumed->done, consumed->elapsed);
    const double publish_s = std::chrono::duration<double>(published->elapsed).count();
    const double consume_s = std::chrono::duration<double>(consumed->elapsed).count();
    const size_t body_size =
        args.as_ingress ? IngressStyleMessage(0).body.size() : SampleBody(args.body_size).size();
    const bool stream = args.stream || args.as_ingress;
    const std::string queue_type = args.as_ingress ? std::string("quorum") : args.queue_type;
    if (args.json) {
        out << fmt::format(
            R"({{"messages":{},"body_bytes":{},"queue_type":"{}","stream":{},"as_ingress":{},)"
            R"("in_flight":{},"prefetch":{},"confirmed":{},"publish_failed":{},"publish_s":{:.3f},)"
            R"("publish_rate":{:.1f},"consumed":{},"consume_s":{:.3f},"consume_rate":{:.1f}}})"
            "\n",
            args.messages, body_size, queue_type, stream, args.as_ingress, args.in_flight,
            args.prefetch, published->done, published->failed, publish_s, publish_rate,
            consumed->done, consume_s, consume_rate);
    } else {
        out << fmt::format(
            "broker-bench: {} persistent messages of {} bytes, {} queue{}{}\n"
            "  publish with confirms  {:.1f} msg/s ({} confirmed, {} failed, {:.2f} s, "
            "window {})\n"
            "  consume with acks      {:.1f} msg/s ({} in {:.2f} s, prefetch {}, batch {})\n",
            args.messages, body_size, queue_type, stream ? " and a stream" : "",
            args.as_ingress ? ", published as the ingress publishes an OrderPlaced" : "",
            publish_rate, published->done, published->failed, publish_s, args.in_flight,
            consume_rate, consumed->done, consume_s, args.prefetch, args.batch_max);
    }
    return published->failed == 0 ? kExitOk : kExitFailure;
}

CLI::App* AddBrokerBenchCommand(CLI::App& app, std::function<int()>& command,
                                const std::string& amqp_url, const std::string* amqp_ca_file) {
    auto args = std::make_shared<BrokerBenchArgs>();
    args->amqp_url = &amqp_url;
    args->amqp_ca_file = amqp_ca_file;
    CLI::App* bench = app.add_subcommand(
        "broker-bench",
        "The broker's own rates: publish N persistent messages with confirms to a fresh "
        "queue, consume them with acks, delete the queue");
    bench->add_option("--messages,-n", args->messages, "messages (20000)")
        ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
    bench->add_option("--body-size", args->body_size, "body bytes (default: an OrderPlaced)");
    bench->add_option("--in-flight", args->in_flight, "publisher confirm window (4096)")
        ->check(CLI::Range(1u, 1'000'000u));
    bench->add_option("--prefetch", args->prefetch, "consumer prefetch (200)")
        ->check(CLI::Range(1u, 65535u));
    bench->add_option("--batch", args->batch_max, "consumer batch, acked at once (200)")
        ->check(CLI::Range(1u, 65535u));
    bench->add_option("--queue-type", args->queue_type, "quorum (default) or classic")
        ->check(CLI::IsMember({"quorum", "classic"}));
    bench->add_option("--timeout", args->timeout_s, "seconds per phase (120)")
        ->check(CLI::PositiveNumber);
    bench->add_flag("--stream", args->stream,
                    "also write every message to a stream, as order.placed reaches both "
                    "inventory.order-placed and orders.events");
    bench->add_flag("--as-ingress", args->as_ingress,
                    "publish as the ingress publishes an OrderPlaced: to a quorum queue and a "
                    "stream declared as inventory.order-placed and orders.events, through a "
                    "topic exchange, with its properties, traceparent header and a fresh body "
                    "each (implies --stream; use --in-flight C for C clients)");
    bench->add_flag("--json", args->json, "one JSON object");
    bench->callback([args, &command] {
        command = [args] { return RunBrokerBench(*args, std::cout, std::cerr); };
    });
    return bench;
}

}  // namespace orderflow::load
