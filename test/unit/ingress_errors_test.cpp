// The ingress's error answers of SPEC section 5, through the real HTTP server, router and
// IngressApi, with a publisher that has no broker: every error code that needs no broker,
// and 503 BROKER_UNAVAILABLE (with Retry-After) for a valid order that cannot be confirmed.
#include <fmt/format.h>

#include <filesystem>
#include <random>

#include "broker/publisher.hpp"
#include "http_harness.hpp"
#include "service/ingress_api.hpp"
#include "service/store_writer.hpp"
#include "store/store.hpp"
#include "telemetry/metrics.hpp"

using namespace orderflow::http_test;
namespace service = orderflow::service;

namespace {

struct Ingress {
    Ingress()
        : dir(std::filesystem::temp_directory_path() /
              ("orderflow-ingress-errors-" + std::to_string(std::random_device{}()))),
          publisher([] {
              // Never started: not connected, as while the broker is down.
              orderflow::broker::Publisher::Options options;
              options.connection.url = "amqp://guest:guest@127.0.0.1:1/%2f";
              return options;
          }()),
          store([this] {
              std::filesystem::create_directories(dir);
              return orderflow::store::OpenStore(
                  {.service = "ingress", .database_url = "", .sqlite_path = dir / "ingress.db"});
          }()),
          writer(store->Connect(orderflow::store::Durability::kNormal)),
          api(publisher, writer, *store, metrics) {
        api.Register(router);
        harness = std::make_unique<Harness>(
            http::ServerOptions{}, [this](http::Request&& request, http::Respond respond) {
                router.Handle(std::move(request), std::move(respond));
            });
    }
    ~Ingress() {
        harness.reset();
        writer.Stop();
        std::filesystem::remove_all(dir);
    }

    // One request on a connection of its own; the raw answer.
    std::string Send(const std::string& method, const std::string& target,
                     const std::string& body = {}, const std::string& headers = {}) {
        RawSocket raw(harness->server->Port());
        std::string request = method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + headers;
        if (!body.empty() || method == "POST") {
            request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        }
        raw.Send(request + "Connection: close\r\n\r\n" + body);
        return raw.Read(10s);
    }

    std::filesystem::path dir;
    orderflow::telemetry::Registry metrics;
    orderflow::broker::Publisher publisher;
    std::unique_ptr<orderflow::store::Store> store;
    service::StoreWriter writer;
    service::IngressApi api;
    http::Router router;
    std::unique_ptr<Harness> harness;
};

const std::string kJson = "Content-Type: application/json\r\n";
const std::string kOrder = R"({"user_id":"user1","items":{"burger":1}})";

bool Is(const std::string& answer, int status, const std::string& code) {
    return answer.starts_with("HTTP/1.1 " + std::to_string(status)) &&
           answer.find(R"({"error":{"code":")" + code + "\"") != std::string::npos;
}

}  // namespace

TEST_CASE("the ingress answers each bad order with its SPEC error code", "[http][ingress]") {
    Ingress ingress;
    CHECK(Is(ingress.Send("POST", "/orders", "{not json", kJson), 400, "INVALID_JSON"));
    CHECK(Is(ingress.Send("POST", "/orders", "", kJson), 400, "INVALID_JSON"));
    const std::vector<std::string> violations = {
        R"({"user_id":"user1"})",
        R"({"items":{"burger":1}})",
        R"({"user_id":"","items":{"burger":1}})",
        R"({"user_id":")" + std::string(129, 'u') + R"(","items":{"burger":1}})",
        R"({"user_id":"user1","items":{}})",
        R"({"user_id":"user1","items":{"burger":0}})",
        R"({"user_id":"user1","items":{"burger":1001}})",
        R"({"user_id":"user1","items":{"burger":1.5}})",
        R"({"user_id":"user1","items":{"burger":"1"}})",
        R"({"user_id":"user1","items":{"bad sku":1}})",
        R"({"user_id":"user1","items":{"burger":1},"coupon":"x"})",
        R"(["user1"])",
    };
    for (const auto& body : violations) {
        INFO(body);
        CHECK(Is(ingress.Send("POST", "/orders", body, kJson), 400, "SCHEMA_VIOLATION"));
    }
    std::string many = R"({"user_id":"u","items":{)";
    for (int i = 0; i < 101; ++i) many += (i ? "," : "") + fmt::format(R"("sku{}":1)", i);
    CHECK(Is(ingress.Send("POST", "/orders", many + "}}", kJson), 400, "SCHEMA_VIOLATION"));
}

TEST_CASE("the ingress checks the media type: JSON with parameters or none is fine, else 415",
          "[http][ingress]") {
    Ingress ingress;
    CHECK(Is(ingress.Send("POST", "/orders", kOrder, "Content-Type: text/plain\r\n"), 415,
             "UNSUPPORTED_MEDIA_TYPE"));
    CHECK(Is(ingress.Send("POST", "/order", kOrder, "Content-Type: application/xml\r\n"), 415,
             "UNSUPPORTED_MEDIA_TYPE"));
    // What curl -d sends: the answer names it and says how to send JSON.
    const auto form = ingress.Send("POST", "/orders", kOrder,
                                   "Content-Type: application/x-www-form-urlencoded\r\n");
    CHECK(Is(form, 415, "UNSUPPORTED_MEDIA_TYPE"));
    CHECK(form.find("Content-Type 'application/x-www-form-urlencoded' is not JSON") !=
          std::string::npos);
    CHECK(form.find("add -H 'Content-Type: application/json'") != std::string::npos);
    // Accepted media types get past the check: without a broker they meet 503.
    CHECK(Is(ingress.Send("POST", "/orders", kOrder,
                          "Content-Type: application/json; charset=utf-8\r\n"),
             503, "BROKER_UNAVAILABLE"));
    CHECK(Is(ingress.Send("POST", "/orders", kOrder), 503, "BROKER_UNAVAILABLE"));
}

TEST_CASE("without a broker a valid order gets 503 BROKER_UNAVAILABLE with Retry-After, never 202",
          "[http][ingress]") {
    Ingress ingress;
    for (const auto* path : {"/orders", "/order"}) {
        const auto answer = ingress.Send("POST", path, kOrder, kJson);
        CHECK(Is(answer, 503, "BROKER_UNAVAILABLE"));
        CHECK(answer.find("\r\nRetry-After: ") != std::string::npos);
    }
    // A keyed request that failed is not remembered: the retry is not a 409 or a replay.
    const std::string key = "Idempotency-Key: k-503\r\n";
    CHECK(Is(ingress.Send("POST", "/orders", kOrder, kJson + key), 503, "BROKER_UNAVAILABLE"));
    CHECK(Is(ingress.Send("POST", "/orders", kOrder, kJson + key), 503, "BROKER_UNAVAILABLE"));
}

TEST_CASE("unknown orders, paths and methods get 404 and 405 - oversized bodies 413",
          "[http][ingress]") {
    Ingress ingress;
    CHECK(Is(ingress.Send("GET", "/orders/not-a-uuid"), 404, "NOT_FOUND"));
    CHECK(
        Is(ingress.Send("GET", "/orders/0b0f4a56-8d1e-4c3b-a2f1-9e8d7c6b5a40"), 404, "NOT_FOUND"));
    CHECK(Is(ingress.Send("GET", "/orders/%00%ff%22"), 404, "NOT_FOUND"));
    CHECK(Is(ingress.Send("GET", "/nothing/here"), 404, "NOT_FOUND"));
    const auto wrong_method = ingress.Send("DELETE", "/orders");
    CHECK(Is(wrong_method, 405, "METHOD_NOT_ALLOWED"));
    CHECK(wrong_method.find("\r\nAllow: POST") != std::string::npos);
    const std::string huge =
        R"({"user_id":"user1","items":{"burger":1},"pad":")" + std::string(70 * 1024, 'x') + "\"}";
    CHECK(Is(ingress.Send("POST", "/orders", huge, kJson), 413, "PAYLOAD_TOO_LARGE"));
}
