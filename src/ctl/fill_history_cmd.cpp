// `orderflowctl fill-history [--minutes 15] [--rate 50]`: writes the history of a pipeline
// that ran for the last N minutes at R orders per second straight onto the stream
// orders.events, for measuring what analytics and its console keep (scripts/bench.sh (d)).
// Each order is what the services would have published: OrderPlaced (ingress), then
// InventoryReserved, or InventoryRejected for one order in 50 (inventory), then
// NotificationSent (notification), 4 and 9 ms apart, with the properties and traceparent
// the services set; event times and version-7 order ids spread evenly over the window,
// the last order now. Published with confirms to the stream alone (the default exchange),
// so no work queue receives them. Prints one JSON line: orders, events, seconds.
#include <fmt/format.h>

#include <atomic>
#include <random>
#include <thread>

#include "broker/publisher.hpp"
#include "broker/topology.hpp"
#include "ctl/commands.hpp"
#include "events/codec.hpp"
#include "events/ids.hpp"

namespace orderflow::ctl {
namespace {

// A version-7 UUID whose time is `ms` (RFC 9562): the console finds an order by it.
std::string UuidV7At(int64_t ms, std::mt19937_64& random) {
    const uint64_t high = (static_cast<uint64_t>(ms) << 16) | 0x7000 | (random() & 0x0fff);
    const uint64_t low = (random() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xffff,
                       high & 0xffff, low >> 48, low & 0xffffffffffffULL);
}

events::Envelope EnvelopeAt(events::EventType type, const std::string& order_id, int64_t ms,
                            std::mt19937_64& random) {
    events::Envelope envelope;
    envelope.event_id = UuidV7At(ms, random);
    envelope.type = type;
    envelope.occurred_at = events::FormatTime(events::FromUnixMillis(ms));
    envelope.order_id = order_id;
    return envelope;
}

broker::OutgoingMessage ToStream(const events::Envelope& envelope, std::string app_id,
                                 std::string body, const events::TraceContext& trace) {
    broker::OutgoingMessage message;
    message.exchange = broker::ExchangeName{""};
    message.routing_key = broker::RoutingKey{broker::kEventStream.value};
    message.properties.message_id = envelope.event_id;
    message.properties.correlation_id = envelope.order_id;
    message.properties.type = std::string(events::TypeName(envelope.type));
    message.properties.app_id = std::move(app_id);
    message.properties.timestamp =
        events::ToUnixMillis(*events::ParseTime(envelope.occurred_at)) / 1000;
    message.properties.headers["traceparent"] = events::FormatTraceparent(events::ChildSpan(trace));
    message.body = std::move(body);
    return message;
}

}  // namespace

int RunFillHistory(const GlobalOptions& global, const FillHistoryOptions& options) {
    const auto orders = static_cast<int64_t>(options.minutes * 60 * options.rate);
    if (orders <= 0) return Fail("--minutes and --rate give no order");
    broker::Publisher::Options publisher_options;
    publisher_options.connection = ConnectionFor(global, "fill-history");
    publisher_options.app_id = "orderflowctl";
    broker::Publisher publisher(std::move(publisher_options));
    publisher.Start();
    const auto connect_by = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!publisher.Connected() && std::chrono::steady_clock::now() < connect_by) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!publisher.Connected()) {
        return Fail(fmt::format("cannot connect to {}", RedactUrl(global.amqp_url)));
    }
    std::mt19937_64 random(options.seed);
    std::atomic<int64_t> confirmed{0}, failed{0};
    const auto began = std::chrono::steady_clock::now();
    const int64_t end_ms = events::ToUnixMillis(std::chrono::system_clock::now());
    const int64_t span_ms = static_cast<int64_t>(options.minutes * 60'000);
    int64_t published = 0;
    const auto publish = [&](broker::OutgoingMessage message) {
        // At most kWindow unconfirmed: the publisher's queue stays small.
        constexpr int64_t kWindow = 20'000;
        while (published - confirmed.load() - failed.load() >= kWindow) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        ++published;
        publisher.Publish(std::move(message), [&](broker::PublishStatus status) {
            (status == broker::PublishStatus::kConfirmed ? confirmed : failed).fetch_add(1);
        });
    };
    for (int64_t i = 0; i < orders; ++i) {
        const int64_t at = end_ms - span_ms + span_ms * (i + 1) / orders;
        const auto order_id = UuidV7At(at, random);
        const auto trace = events::NewTrace();
        const std::string user = fmt::format("history{}", i % 1000);
        const std::vector<events::Item> items{{"burger", 1}, {"soda", 2}};
        events::OrderPlaced placed{
            EnvelopeAt(events::EventType::kOrderPlaced, order_id, at, random), user, items};
        publish(ToStream(placed.envelope, "ingress", events::Encode(placed), trace));
        const bool rejected = i % 50 == 49;
        std::string text;
        if (rejected) {
            events::InventoryRejected event{
                EnvelopeAt(events::EventType::kInventoryRejected, order_id, at + 4, random), user,
                items, events::RejectReason::kOutOfStock, "Item 'burger' is out of stock"};
            publish(ToStream(event.envelope, "inventory", events::Encode(event), trace));
            text = fmt::format("Order {} rejected: Item 'burger' is out of stock", order_id);
        } else {
            events::InventoryReserved event{
                EnvelopeAt(events::EventType::kInventoryReserved, order_id, at + 4, random), user,
                items};
            publish(ToStream(event.envelope, "inventory", events::Encode(event), trace));
            text = fmt::format("Order {} confirmed! Reserved items: burger: 1, soda: 2", order_id);
        }
        events::NotificationSent sent{
            EnvelopeAt(events::EventType::kNotificationSent, order_id, at + 13, random), user,
            rejected ? events::NotificationOutcome::kRejected
                     : events::NotificationOutcome::kConfirmed,
            text};
        publish(ToStream(sent.envelope, "notification", events::Encode(sent), trace));
    }
    publisher.Stop(std::chrono::seconds(60));  // waits for the outstanding confirms
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    fmt::print(R"({{"orders":{},"events":{},"confirmed":{},"failed":{},"seconds":{:.2f}}})"
               "\n",
               orders, orders * 3, confirmed.load(), failed.load(), seconds);
    if (confirmed.load() != orders * 3) {
        return Fail(fmt::format("{} of {} events were not confirmed", orders * 3 - confirmed.load(),
                                orders * 3));
    }
    return kExitOk;
}

}  // namespace orderflow::ctl
