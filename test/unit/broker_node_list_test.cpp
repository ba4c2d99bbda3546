// Unit tests (no broker): the node list of a cluster URL and the failover order over it.
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "broker/impl/connection.hpp"
#include "broker/node_list.hpp"

using namespace orderflow::broker;

namespace {
const std::string kA = "amqp://u:pa@127.0.0.1:5001/%2f";
const std::string kB = "amqp://u:pb@127.0.0.1:5002/%2f";
const std::string kC = "amqps://u:pc@broker3.example:5671/orders";
}  // namespace

TEST_CASE("a cluster URL lists its nodes separated by commas, blanks ignored", "[broker][nodes]") {
    auto nodes = ParseNodeUrls(kA + ", " + kB + " ,\t" + kC);
    REQUIRE(nodes.has_value());
    CHECK(*nodes == std::vector<std::string>{kA, kB, kC});
    auto one = ParseNodeUrls(kA);
    REQUIRE(one.has_value());
    CHECK(*one == std::vector<std::string>{kA});
}

TEST_CASE("a node list with an empty or foreign entry is refused without its passwords",
          "[broker][nodes]") {
    auto empty = ParseNodeUrls(kA + ",," + kB);
    REQUIRE_FALSE(empty.has_value());
    CHECK(empty.error().find("empty entry") != std::string::npos);
    CHECK(empty.error().find("pa@") == std::string::npos);
    auto trailing = ParseNodeUrls(kA + ",");
    REQUIRE_FALSE(trailing.has_value());
    auto foreign = ParseNodeUrls(kA + ",http://u:secret@host/");
    REQUIRE_FALSE(foreign.has_value());
    CHECK(foreign.error().find("http://u:***@host/") != std::string::npos);
    CHECK(foreign.error().find("secret") == std::string::npos);
    CHECK_FALSE(ParseNodeUrls("").has_value());
}

TEST_CASE("every password of a node list is redacted", "[broker][nodes]") {
    CHECK(RedactNodeUrls(kA + "," + kB) ==
          "amqp://u:***@127.0.0.1:5001/%2f,amqp://u:***@127.0.0.1:5002/%2f");
}

TEST_CASE("the shuffle of a node list is a permutation fixed by its seed", "[broker][nodes]") {
    const std::vector<std::string> nodes{kA, kB, kC};
    NodeRing first(nodes, 7);
    NodeRing again(nodes, 7);
    std::multiset<std::string> seen;
    for (size_t i = 0; i < first.Size(); ++i) {
        CHECK(first.Url(i) == again.Url(i));
        seen.insert(first.Url(i));
    }
    CHECK(seen == std::multiset<std::string>(nodes.begin(), nodes.end()));
}

TEST_CASE("processes with different seeds spread their first node over the cluster",
          "[broker][nodes]") {
    const std::vector<std::string> nodes{kA, kB, kC};
    std::map<std::string, int> first_choice;
    for (uint64_t seed = 0; seed < 3000; ++seed) {
        NodeRing ring(nodes, seed);
        ++first_choice[ring.Url(ring.Candidates().front())];
    }
    REQUIRE(first_choice.size() == 3);
    for (const auto& [node, count] : first_choice) {
        CHECK(count > 800);  // 1000 expected each
        CHECK(count < 1200);
    }
}

TEST_CASE("a connection tries the node in use first, then each other node once in ring order",
          "[broker][nodes]") {
    NodeRing ring({kA, kB, kC}, 11);
    CHECK(ring.Candidates() == std::vector<size_t>{0, 1, 2});
    ring.Connected(2);
    CHECK(ring.Current() == 2);
    CHECK(ring.Candidates() == std::vector<size_t>{2, 0, 1});
}

TEST_CASE("losing the node in use moves the process on to the next node, once", "[broker][nodes]") {
    NodeRing ring({kA, kB, kC}, 11);
    ring.Connected(1);
    ring.Lost(1);
    CHECK(ring.Current() == 2);
    // Another connection of the process lost the same node later: it must not skip node 2.
    ring.Lost(1);
    CHECK(ring.Current() == 2);
    ring.Lost(2);
    CHECK(ring.Current() == 0);  // the ring wraps
    CHECK(ring.Candidates() == std::vector<size_t>{0, 1, 2});
}

TEST_CASE("one ring per node list in a process", "[broker][nodes]") {
    const auto list = kA + "," + kB;
    CHECK(RingFor(list) == RingFor(list));
    CHECK(RingFor(list) != RingFor(kA));
    CHECK(RingFor(list)->Size() == 2);
}

TEST_CASE("a connection to a cluster with no reachable node names every node it tried",
          "[broker][nodes]") {
    // Two loopback ports nothing listens on (1 and 2 need root to bind).
    ConnectionOptions options;
    options.url = "amqp://u:secret@127.0.0.1:1/%2f,amqp://u:secret@127.0.0.1:2/%2f";
    options.connect_timeout = std::chrono::milliseconds(500);
    auto connection = impl::Connection::Open(options);
    REQUIRE_FALSE(connection.has_value());
    CHECK(connection.error().find("no node of the cluster") != std::string::npos);
    CHECK(connection.error().find("127.0.0.1:1") != std::string::npos);
    CHECK(connection.error().find("127.0.0.1:2") != std::string::npos);
    CHECK(connection.error().find("secret") == std::string::npos);
}
