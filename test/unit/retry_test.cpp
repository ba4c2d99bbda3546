// Retry decisions and failure records, without a broker or a clock.
#include "service/retry.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>

#include "service/config.hpp"

using namespace orderflow;
using namespace orderflow::service;
using namespace std::chrono_literals;

namespace {

broker::Delivery SampleDelivery() {
    broker::Delivery d;
    d.exchange = broker::ExchangeName{"orders"};
    d.routing_key = broker::RoutingKey{"order.placed"};
    d.queue = broker::QueueName{"inventory.order-placed"};
    d.properties.message_id = "m-1";
    d.properties.correlation_id = "o-1";
    d.properties.type = "OrderPlaced";
    d.properties.headers["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    d.properties.headers["x-death"] = broker::FieldArray{broker::FieldTable{{"count", int64_t{1}}}};
    d.body = R"({"a":1})";
    return d;
}

}  // namespace

TEST_CASE("retry delays follow the configured list with at most 20% jitter") {
    RetryPolicy policy;  // 4 attempts, 1000/5000/25000
    std::mt19937_64 rng(42);
    for (int i = 0; i < 200; ++i) {
        auto first = DecideRetry(policy, 1, rng);
        REQUIRE_FALSE(first.dead_letter);
        CHECK(first.next_attempt == 2);
        CHECK(first.level == 1);
        CHECK(first.delay >= 800ms);
        CHECK(first.delay <= 1200ms);
        auto third = DecideRetry(policy, 3, rng);
        CHECK(third.level == 3);
        CHECK(third.delay >= 20000ms);
        CHECK(third.delay <= 30000ms);
    }
}

TEST_CASE("the attempt that reaches max_attempts is dead-lettered, not retried") {
    RetryPolicy policy;
    policy.max_attempts = 3;
    std::mt19937_64 rng(1);
    CHECK_FALSE(DecideRetry(policy, 1, rng).dead_letter);
    CHECK_FALSE(DecideRetry(policy, 2, rng).dead_letter);
    CHECK(DecideRetry(policy, 3, rng).dead_letter);
    CHECK(DecideRetry(policy, 7, rng).dead_letter);
}

TEST_CASE("attempts beyond the delay list reuse the last delay and level") {
    RetryPolicy policy;
    policy.max_attempts = 10;
    policy.delays = {100ms, 200ms};
    std::mt19937_64 rng(7);
    CHECK(policy.Levels() == 2);
    auto later = DecideRetry(policy, 6, rng);
    CHECK(later.level == 2);
    CHECK(later.delay >= 160ms);
    CHECK(later.delay <= 240ms);
}

TEST_CASE("a delivery without x-attempts is attempt 1 - the header is read as a number") {
    auto d = SampleDelivery();
    CHECK(AttemptOf(d) == 1);
    d.properties.headers["x-attempts"] = int64_t{3};
    CHECK(AttemptOf(d) == 3);
}

TEST_CASE("a dead letter carries the full failure record and keeps the original message") {
    auto d = SampleDelivery();
    FailureInfo failure{FailureKind::kPoison, "not_json: bad", 1, "inventory@host",
                        events::FromUnixMillis(1795262400000)};
    auto out = DeadLetterMessage(d, failure);
    CHECK(out.exchange.value == "orders.dlx");
    CHECK(out.routing_key.value == "inventory.order-placed");
    CHECK(out.body == d.body);
    CHECK(out.properties.message_id == "m-1");
    CHECK(out.properties.correlation_id == "o-1");
    const auto& h = out.properties;
    CHECK(*h.Header("x-error-kind") == "poison");
    CHECK(*h.Header("x-error") == "not_json: bad");
    CHECK(*h.Header("x-failed-queue") == "inventory.order-placed");
    CHECK(*h.Header("x-original-exchange") == "orders");
    CHECK(*h.Header("x-original-routing-key") == "order.placed");
    CHECK(h.IntHeader("x-attempts") == 1);
    CHECK(*h.Header("x-first-failed-at") == "2026-11-21T12:00:00.000Z");
    CHECK(*h.Header("x-failed-at") == "2026-11-21T12:00:00.000Z");
    CHECK(*h.Header("x-consumer") == "inventory@host");
    CHECK(*h.Header("traceparent") == *d.properties.Header("traceparent"));
    CHECK_FALSE(h.headers.contains("x-death"));
}

TEST_CASE("a retried copy goes to its delay queue only and remembers where it came from") {
    auto d = SampleDelivery();
    auto retry = RetryMessage(d, 2, broker::QueueName{"inventory.order-placed.retry.1"}, 950ms,
                              events::FromUnixMillis(1795262400000), "injected");
    CHECK(retry.exchange.value.empty());
    CHECK(retry.routing_key.value == "inventory.order-placed.retry.1");
    CHECK(retry.properties.expiration == "950");
    CHECK(retry.properties.IntHeader("x-attempts") == 2);
    CHECK(*retry.properties.Header("x-original-routing-key") == "order.placed");

    // Back from the delay queue through the default exchange: the origin is kept.
    broker::Delivery back = d;
    back.exchange = broker::ExchangeName{""};
    back.routing_key = broker::RoutingKey{"inventory.order-placed"};
    back.properties = retry.properties;
    back.properties.expiration.clear();
    auto dead = DeadLetterMessage(back, FailureInfo{FailureKind::kExhausted, "x", 2, "c",
                                                    events::FromUnixMillis(1795262460000)});
    CHECK(*dead.properties.Header("x-original-exchange") == "orders");
    CHECK(*dead.properties.Header("x-original-routing-key") == "order.placed");
    CHECK(*dead.properties.Header("x-first-failed-at") == "2026-11-21T12:00:00.000Z");
    CHECK(*dead.properties.Header("x-failed-at") == "2026-11-21T12:01:00.000Z");
    CHECK(dead.properties.expiration.empty());
}

TEST_CASE("ORDERFLOW_RETRY_DELAYS_MS and --retry-delays-ms give the retry delays, in order",
          "[retry]") {
    std::vector<std::chrono::milliseconds> delays;
    CHECK(ParseDelays("1000,5000,25000", delays));
    CHECK(delays == std::vector<std::chrono::milliseconds>{1000ms, 5000ms, 25000ms});
    CHECK(ParseDelays(" 200 , 0,7 ", delays));
    CHECK(delays == std::vector<std::chrono::milliseconds>{200ms, 0ms, 7ms});
    for (const char* bad : {"", ",", "1000,", "-5", "1000;2000", "1e3", "10 00", "x"}) {
        INFO("'" << bad << "'");
        CHECK_FALSE(ParseDelays(bad, delays));
    }

    // Through the options the consumers parse: the flag, then the environment twin.
    const auto parsed = [](std::vector<std::string> args) {
        CLI::App app;
        Config config;
        AddConsumerOptions(app, config);
        std::reverse(args.begin(), args.end());
        app.parse(args);
        return config.RetryDelays();
    };
    CHECK(parsed({"--retry-delays-ms", "300,700"}) ==
          std::vector<std::chrono::milliseconds>{300ms, 700ms});
    CHECK_THROWS_AS(parsed({"--retry-delays-ms", "300,-1"}), CLI::ValidationError);
    ::setenv("ORDERFLOW_RETRY_DELAYS_MS", "250", 1);
    CHECK(parsed({}) == std::vector<std::chrono::milliseconds>{250ms});
    CHECK(parsed({"--retry-delays-ms", "40"}) == std::vector<std::chrono::milliseconds>{40ms});
    ::unsetenv("ORDERFLOW_RETRY_DELAYS_MS");
    CHECK(parsed({}) == std::vector<std::chrono::milliseconds>{1000ms, 5000ms, 25000ms});
}
