// Unit tests (no broker): URL parsing, redaction, reconnect backoff, the contract topology,
// the reason given for a refused connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>

#include "broker/impl/backoff.hpp"
#include "broker/impl/connection.hpp"
#include "broker/topology.hpp"

using namespace orderflow::broker;

TEST_CASE("broker URLs parse with the vhost decoded", "[broker][url]") {
    auto url = impl::ParseUrl("amqp://guest:secret@127.0.0.1:5782/%2f");
    REQUIRE(url.has_value());
    CHECK(url->host == "127.0.0.1");
    CHECK(url->port == 5782);
    CHECK(url->user == "guest");
    CHECK(url->password == "secret");
    CHECK(url->vhost == "/");
    CHECK_FALSE(url->tls);

    auto tls = impl::ParseUrl("amqps://u:p@broker.example/orders?heartbeat=10");
    REQUIRE(tls.has_value());
    CHECK(tls->tls);
    CHECK(tls->port == 5671);
    CHECK(tls->vhost == "orders");

    auto bad = impl::ParseUrl("http://nope");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().find("bad broker URL") != std::string::npos);
}

TEST_CASE("passwords never show in logged URLs", "[broker][url]") {
    CHECK(impl::RedactedUrl("amqp://guest:secret@host:5672/%2f") ==
          "amqp://guest:***@host:5672/%2f");
    CHECK(impl::RedactedUrl("amqp://host:5672/") == "amqp://host:5672/");
}

TEST_CASE("backoff grows to its ceiling with jitter and resets", "[broker][backoff]") {
    using std::chrono::milliseconds;
    impl::Backoff backoff(milliseconds(100), milliseconds(1000), 42);
    const auto first = backoff.Next();
    CHECK(first >= milliseconds(50));
    CHECK(first <= milliseconds(100));
    std::set<int64_t> late;
    for (int i = 0; i < 20; ++i) {
        const auto delay = backoff.Next();
        CHECK(delay <= milliseconds(1000));
        if (i > 5) {
            CHECK(delay >= milliseconds(500));
            late.insert(delay.count());
        }
    }
    CHECK(late.size() > 1);  // jittered, not lockstep
    backoff.Reset();
    CHECK(backoff.Next() <= milliseconds(100));
}

TEST_CASE("the contract topology has what SPEC section 3 names", "[broker][topology]") {
    const auto topology = ContractTopology(3);
    std::map<std::string, FieldTable> queues;
    for (const auto& queue : topology.queues) queues[queue.name.value] = queue.arguments;
    for (const auto& work : WorkQueues()) {
        const auto& args = queues.at(work.value);
        CHECK(*args.at("x-queue-type").AsString() == "quorum");
        CHECK(args.at("x-delivery-limit").AsInt() == kDeliveryLimit);
        CHECK(*args.at("x-dead-letter-exchange").AsString() == "orders.dlx");
        CHECK(*args.at("x-dead-letter-routing-key").AsString() == work.value);
        CHECK(*args.at("x-dead-letter-strategy").AsString() == "at-least-once");
        CHECK(*args.at("x-overflow").AsString() == "reject-publish");
        CHECK_FALSE(queues.at(work.value + ".dlq").contains("x-delivery-limit"));
        for (int level = 1; level <= 3; ++level) {
            // Replicated delay queues whose expired messages are dead-lettered at-least-once.
            const auto& retry = queues.at(RetryQueue(work, level).value);
            CHECK(*retry.at("x-queue-type").AsString() == "quorum");
            CHECK(*retry.at("x-dead-letter-strategy").AsString() == "at-least-once");
            CHECK(*retry.at("x-overflow").AsString() == "reject-publish");
            CHECK(retry.at("x-dead-letter-exchange").AsString()->empty());
            CHECK(*retry.at("x-dead-letter-routing-key").AsString() == work.value);
        }
        CHECK_FALSE(queues.contains(RetryQueue(work, 4).value));
    }
    CHECK(*queues.at("orders.events").at("x-queue-type").AsString() == "stream");
    std::set<std::tuple<std::string, std::string, std::string>> bindings;
    for (const auto& b : topology.bindings) {
        bindings.emplace(b.queue.value, b.exchange.value, b.key.value);
    }
    CHECK(bindings.contains({"inventory.order-placed", "orders", "order.placed"}));
    CHECK(bindings.contains({"notification.inventory-events", "orders", "inventory.rejected"}));
    CHECK(bindings.contains({"ingress.order-status", "orders", "inventory.*"}));
    CHECK(bindings.contains({"ingress.order-status.dlq", "orders.dlx", "ingress.order-status"}));
    CHECK(bindings.contains({"orders.events", "orders", "#"}));
    for (const auto& b : topology.bindings)
        CHECK(b.queue.value.find(".retry.") == std::string::npos);
}

TEST_CASE("a refused connection says so, not just 'a socket error occurred'", "[broker][url]") {
    // A port nobody listens on: bind one, note it, close it.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t size = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    ::close(fd);
    ConnectionOptions options;
    options.url =
        "amqp://guest:guest@127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/%2f";
    options.connect_timeout = std::chrono::milliseconds(2000);
    auto connection = impl::Connection::Open(options);
    REQUIRE_FALSE(connection.has_value());
    CHECK_THAT(connection.error(), Catch::Contains("cannot connect to 127.0.0.1:") &&
                                       Catch::Contains("Connection refused"));
}
