// API keys on the ingress's order routes (SPEC section 11), end to end: the real ingress
// with ORDERFLOW_API_KEYS on a vhost of its own, no consumer on inventory's queue, so that
// the queue's depth shows whether a refused request published anything.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "broker/client.hpp"
#include "broker/topology.hpp"
#include "support.hpp"

using namespace orderflow;
using namespace orderflow::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAliceKey = "alice-it-key-7Hq2xP9vLm3Rt8Wz";
constexpr const char* kBobKey = "bob-it-key-Kd4Nf6Js1Qa5Ue0Yc";

std::filesystem::path TempDir() {
    auto dir = std::filesystem::temp_directory_path() / ("orderflow-keys-it-" + NewId());
    std::filesystem::create_directories(dir);
    return dir;
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

uint32_t Depth(broker::Client& client, const broker::QueueName& queue) {
    auto info = client.Inspect(queue);
    REQUIRE(info);
    REQUIRE(info->has_value());
    return (*info)->messages;
}

}  // namespace

TEST_CASE(
    "with API keys, no key or an unknown key gets 401 and another user's id 403 - "
    "and none of them publishes anything",
    "[security][keys]") {
    Vhost vhost;
    const auto dir = TempDir();
    WriteFile(dir / "keys.json",
              std::string(R"({")") + kAliceKey + R"(":"alice",")" + kBobKey + R"(":"bob"})");
    Service ingress("orderflow-ingress",
                    {{"ORDERFLOW_AMQP_URL", vhost.AmqpUrl()},
                     {"ORDERFLOW_DATA_DIR", dir.string()},
                     {"ORDERFLOW_API_KEYS", (dir / "keys.json").string()}},
                    dir);
    ingress.Start();
    REQUIRE(ingress.WaitReady());
    auto client = ConnectBroker(vhost);
    REQUIRE(Depth(client, broker::kInventoryQueue) == 0);

    const std::string alice_order = R"({"user_id":"alice","items":{"burger":1}})";
    const auto post = [&](const std::string& path, const std::string& body,
                          std::vector<std::pair<std::string, std::string>> headers) {
        headers.emplace_back("Content-Type", "application/json");
        return HttpCall("POST", ingress.Port(), path, body, headers);
    };
    for (const char* path : {"/orders", "/order", "/orders/sync"}) {
        INFO(path);
        auto none = post(path, alice_order, {});
        CHECK(none.status == 401);
        CHECK_THAT(none.body, Catch::Contains("UNAUTHENTICATED"));
        CHECK_THAT(none.headers["www-authenticate"], Catch::StartsWith("Bearer"));

        auto unknown =
            post(path, alice_order, {{"Authorization", "Bearer no-such-key-0000000000"}});
        CHECK(unknown.status == 401);
        CHECK_THAT(unknown.headers["www-authenticate"], Catch::Contains("invalid_token"));

        auto other_user =
            post(path, alice_order, {{"Authorization", std::string("Bearer ") + kBobKey}});
        CHECK(other_user.status == 403);
        CHECK_THAT(other_user.body, Catch::Contains("FORBIDDEN"));
    }
    // With an Idempotency-Key too: a refused request must not claim the key either.
    auto keyed = post(
        "/orders", alice_order,
        {{"Authorization", std::string("Bearer ") + kBobKey}, {"Idempotency-Key", "refused-1"}});
    CHECK(keyed.status == 403);
    std::this_thread::sleep_for(500ms);  // anything published would have arrived by now
    CHECK(Depth(client, broker::kInventoryQueue) == 0);

    auto accepted = post(
        "/orders", alice_order,
        {{"Authorization", std::string("Bearer ") + kAliceKey}, {"Idempotency-Key", "refused-1"}});
    REQUIRE(accepted.status == 202);
    CHECK(Eventually([&] { return Depth(client, broker::kInventoryQueue) == 1; }, 10s));
    // Reading an order needs no key (SPEC section 11 protects placing orders).
    const auto order_id = JsonField(accepted.body, "order_id");
    CHECK(HttpCall("GET", ingress.Port(), "/orders/" + order_id).status == 200);

    const auto log = ingress.Log();
    CHECK_THAT(log, !Catch::Contains(kAliceKey));
    CHECK_THAT(log, !Catch::Contains(kBobKey));
    std::filesystem::remove_all(dir);
}

TEST_CASE(
    "a malformed, empty or missing API keys file stops the ingress at start with exit 2 "
    "and a reason that shows no key",
    "[security][keys]") {
    const auto dir = TempDir();
    const std::string secret = "Secret-Key-Material-123456";
    const std::vector<std::tuple<std::string, std::optional<std::string>, std::string>> cases = {
        {"malformed", std::string(R"({")") + secret + R"(": "alice",})", "not valid JSON"},
        {"empty", std::string("{}"), "no keys"},
        {"short key", std::string(R"({"Secret-short":"alice"})"), "16 to 512 characters"},
        {"missing", std::nullopt, "No such file"},
    };
    for (const auto& [name, content, reason] : cases) {
        INFO(name);
        const auto file = dir / (name + ".json");
        if (content) WriteFile(file, *content);
        Service ingress("orderflow-ingress",
                        {{"ORDERFLOW_AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f"},
                         {"ORDERFLOW_DATA_DIR", (dir / name).string()},
                         {"ORDERFLOW_API_KEYS", file.string()}},
                        dir / name);
        ingress.Start();
        CHECK(ingress.Wait(20s) == 2);
        const auto log = ingress.Log();
        CHECK_THAT(log, Catch::Contains("ORDERFLOW_API_KEYS"));
        CHECK_THAT(log, Catch::Contains(reason));
        CHECK_THAT(log, !Catch::Contains("Secret"));
    }
    std::filesystem::remove_all(dir);
}
