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

struct Phase {
    uint64_t done = 0;
    uint64_t failed = 0;
    Clock::duration elapsed{};
};

std::expected<Phase, std::string> PublishPhase(const BrokerBenchArgs& args,
                                               const broker::ConnectionOptions& connection,
                                               const broker::ExchangeName& exchange,
                                               const broker::RoutingKey& routing_key) {
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
        message.exchange = exchange;
        message.routing_key = routing_key;
        message.properties.message_id = fmt::format("bench-{}", i);
        message.properties.type = "OrderPlaced";
        message.body = body;
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
    const broker::QueueName queue{fmt::format("orderflow.bench.{}", events::NewUuid())};
    broker::FieldTable arguments;
    if (args.queue_type != "classic") arguments["x-queue-type"] = args.queue_type;
    if (auto declared = client->DeclareQueue(queue, arguments); !declared) {
        err << "orderflowctl broker-bench: declare " << queue.value << ": " << declared.error()
            << "\n";
        return kExitFailure;
    }
    // Straight to the queue through the default exchange; with --stream through amq.topic
    // under a key of this run's own, bound to the queue and to a fresh stream.
    broker::ExchangeName exchange{""};
    broker::RoutingKey routing_key{queue.value};
    const broker::QueueName stream{queue.value + ".stream"};
    if (args.stream) {
        exchange = broker::ExchangeName{"amq.topic"};
        std::expected<void, std::string> ready =
            client->DeclareQueue(stream, broker::FieldTable{{"x-queue-type", "stream"}});
        if (ready) ready = client->Bind(queue, exchange, routing_key);
        if (ready) ready = client->Bind(stream, exchange, routing_key);
        if (!ready) {
            err << "orderflowctl broker-bench: stream set-up: " << ready.error() << "\n";
            (void)client->DeleteQueue(queue);
            (void)client->DeleteQueue(stream);
            return kExitFailure;
        }
    }
    auto published = PublishPhase(args, connection, exchange, routing_key);
    std::expected<Phase, std::string> consumed = std::unexpected("not run");
    if (published) consumed = ConsumePhase(args, connection, queue, published->done);
    if (auto deleted = client->DeleteQueue(queue); !deleted) {
        err << "orderflowctl broker-bench: delete " << queue.value << ": " << deleted.error()
            << "\n";
    }
    if (args.stream) {
        if (auto deleted = client->DeleteQueue(stream); !deleted) {
            err << "orderflowctl broker-bench: delete " << stream.value << ": " << deleted.error()
                << "\n";
        }
    }
    if (!published || !consumed) {
        err << "orderflowctl broker-bench: " << (!published ? published.error() : consumed.error())
            << "\n";
        return kExitFailure;
    }
    const double publish_rate = Rate(published->done, published->elapsed);
    const double consume_rate = Rate(consumed->done, consumed->elapsed);
    const double publish_s = std::chrono::duration<double>(published->elapsed).count();
    const double consume_s = std::chrono::duration<double>(consumed->elapsed).count();
    const size_t body_size = SampleBody(args.body_size).size();
    if (args.json) {
        out << fmt::format(
            R"({{"messages":{},"body_bytes":{},"queue_type":"{}","stream":{},"in_flight":{},)"
            R"("prefetch":{},"confirmed":{},"publish_failed":{},"publish_s":{:.3f},)"
            R"("publish_rate":{:.1f},"consumed":{},"consume_s":{:.3f},"consume_rate":{:.1f}}})"
            "\n",
            args.messages, body_size, args.queue_type, args.stream, args.in_flight, args.prefetch,
            published->done, published->failed, publish_s, publish_rate, consumed->done, consume_s,
            consume_rate);
    } else {
        out << fmt::format(
            "broker-bench: {} persistent messages of {} bytes, {} queue{}\n"
            "  publish with confirms  {:.1f} msg/s ({} confirmed, {} failed, {:.2f} s, "
            "window {})\n"
            "  consume with acks      {:.1f} msg/s ({} in {:.2f} s, prefetch {}, batch {})\n",
            args.messages, body_size, args.queue_type, args.stream ? " and a stream" : "",
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
    bench->add_flag("--json", args->json, "one JSON object");
    bench->callback([args, &command] {
        command = [args] { return RunBrokerBench(*args, std::cout, std::cerr); };
    });
    return bench;
}

}  // namespace orderflow::load
