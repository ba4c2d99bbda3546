// Unit tests for src/auth (API keys file, constant-time lookup, bearer tokens, URL masking)
// and the key check the ingress puts in front of its order routes (service/order_auth).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "auth/api_keys.hpp"
#include "auth/redact.hpp"
#include "auth/secret.hpp"
#include "http/server.hpp"
#include "service/order_auth.hpp"

namespace auth = orderflow::auth;
namespace http = orderflow::http;
namespace service = orderflow::service;

namespace {

constexpr const char* kAliceKey = "alice-key-0123456789abcdef";
constexpr const char* kBobKey = "bob-key-0123456789abcdef";

std::shared_ptr<const auth::ApiKeys> TwoKeys() {
    auto keys = auth::ApiKeys::Parse(
        R"({"alice-key-0123456789abcdef":"alice","bob-key-0123456789abcdef":"bob"})");
    REQUIRE(keys);
    return std::make_shared<const auth::ApiKeys>(std::move(*keys));
}

struct Called {
    int count = 0;
    http::Response response;
};

// Runs `handler` on a POST /orders with `body` and optional Authorization.
http::Response Post(const http::Handler& handler, const std::string& body,
                    const char* authorization) {
    http::Request request;
    request.method = "POST";
    http::SetTarget(request, "/orders");
    request.body = body;
    if (authorization != nullptr) request.headers.emplace_back("authorization", authorization);
    http::Response out;
    out.status = -1;
    handler(std::move(request), [&](http::Response r) { out = std::move(r); });
    return out;
}

std::string HeaderOf(const http::Response& response, const std::string& name) {
    for (const auto& [key, value] : response.headers) {
        if (key == name) return value;
    }
    return {};
}

}  // namespace

TEST_CASE("an API keys file maps each key to its user and nothing else", "[auth]") {
    auto keys = TwoKeys();
    CHECK(keys->Size() == 2);
    CHECK(keys->UserOf(kAliceKey) == "alice");
    CHECK(keys->UserOf(kBobKey) == "bob");
    CHECK_FALSE(keys->UserOf("alice-key-0123456789abcdeX"));
    CHECK_FALSE(keys->UserOf("alice-key-0123456789abcde"));  // a prefix is not the key
    CHECK_FALSE(keys->UserOf(""));
}

TEST_CASE("a malformed API keys file is refused with a reason that never shows a key", "[auth]") {
    const std::string secret = "SECRETsecret0123456789";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{", "not valid JSON"},
        {R"(["x"])", "expected a JSON object"},
        {"{}", "no keys"},
        {R"({"short":"u"})", "16 to 512 characters"},
        {R"({"SECRETsecret 0123456789":"u"})", "may contain only"},
        {R"({"SECRETsecret0123456789":1})", "user id must be a string"},
        {R"({"SECRETsecret0123456789":""})", "user id must be a string"},
        {R"({"SECRETsecret0123456789":"a","SECRETsecret0123456789":"b"})", "listed twice"},
        {R"({"SECRETsecret0123456789":"a"} trailing)", "not valid JSON"},
    };
    for (const auto& [json, expected] : cases) {
        INFO(json);
        auto keys = auth::ApiKeys::Parse(json);
        REQUIRE_FALSE(keys);
        CHECK_THAT(keys.error(), Catch::Contains(expected));
        CHECK_THAT(keys.error(), !Catch::Contains("SECRET"));
    }
    (void)secret;
}

TEST_CASE("a missing API keys file is refused with its path and the system's reason", "[auth]") {
    auto keys = auth::ApiKeys::Load("/nonexistent/orderflow-keys.json");
    REQUIRE_FALSE(keys);
    CHECK_THAT(keys.error(), Catch::Contains("/nonexistent/orderflow-keys.json"));
    CHECK_THAT(keys.error(), Catch::Contains("No such file"));
}

TEST_CASE("bearer tokens are read from the Authorization header, scheme case-insensitive",
          "[auth]") {
    CHECK(auth::BearerToken("Bearer abc123") == "abc123");
    CHECK(auth::BearerToken("bearer abc123") == "abc123");
    CHECK(auth::BearerToken("BEARER   a-b.c_d~e+f/g==  ") == "a-b.c_d~e+f/g==");
    CHECK_FALSE(auth::BearerToken("Basic YWxpY2U6cHc="));
    CHECK_FALSE(auth::BearerToken("Bearer"));
    CHECK_FALSE(auth::BearerToken("Bearer "));
    CHECK_FALSE(auth::BearerToken("Bearerabc"));
    CHECK_FALSE(auth::BearerToken("Bearer a b"));
    CHECK_FALSE(auth::BearerToken("Bearer a=b"));
    CHECK_FALSE(auth::BearerToken(std::string("Bearer a\0b", 10)));
}

TEST_CASE("secrets compare equal only when identical", "[auth]") {
    CHECK(auth::SecretEquals("token-1", "token-1"));
    CHECK_FALSE(auth::SecretEquals("token-1", "token-2"));
    CHECK_FALSE(auth::SecretEquals("token-1", "token-10"));
    CHECK_FALSE(auth::SecretEquals("", "x"));
}

TEST_CASE("URL passwords are masked, one URL or a comma-separated list", "[auth]") {
    CHECK(auth::RedactUrl("amqps://svc:s3cret@localhost:5671/%2f") ==
          "amqps://svc:***@localhost:5671/%2f");
    CHECK(auth::RedactUrl("amqp://a:p1@h1:5672/v,amqp://b:p2@h2:5672/v") ==
          "amqp://a:***@h1:5672/v,amqp://b:***@h2:5672/v");
    CHECK(auth::RedactUrl("http://guest:gu@st@127.0.0.1:15672") ==
          "http://guest:***@127.0.0.1:15672");
    CHECK(auth::RedactUrl("http://127.0.0.1:15672/api?x=a@b:c") ==
          "http://127.0.0.1:15672/api?x=a@b:c");
    CHECK(auth::RedactUrl("amqp://user@host/") == "amqp://user@host/");
    CHECK(auth::RedactUrl("not a url") == "not a url");
}

TEST_CASE("Router::Wrap puts a check in front of one registered route only", "[http][auth]") {
    http::Router router;
    router.Add("POST", "/orders",
               [](http::Request&&, http::Respond respond) { respond(http::Json(202, "inner")); });
    router.Add("GET", "/orders/{id}",
               [](http::Request&&, http::Respond respond) { respond(http::Json(200, "get")); });
    CHECK(router.Wrap("POST", "/orders", [](http::Handler) -> http::Handler {
        return [](http::Request&&, http::Respond respond) { respond(http::Json(401, "wrapped")); };
    }));
    CHECK_FALSE(router.Wrap("POST", "/nothing", [](http::Handler inner) { return inner; }));
    http::Response out;
    http::Request post;
    post.method = "POST";
    http::SetTarget(post, "/orders");
    router.Handle(std::move(post), [&](http::Response r) { out = std::move(r); });
    CHECK(out.body == "wrapped");
    http::Request get;
    get.method = "GET";
    http::SetTarget(get, "/orders/1");
    router.Handle(std::move(get), [&](http::Response r) { out = std::move(r); });
    CHECK(out.body == "get");
}

TEST_CASE("the order key check answers 401 and 403 itself and lets only the key's user through",
          "[auth][ingress]") {
    int inner_calls = 0;
    auto guarded = service::RequireApiKey(TwoKeys(), [&](http::Request&&, http::Respond respond) {
        ++inner_calls;
        respond(http::Json(202, "accepted"));
    });
    const std::string alice_order = R"({"user_id":"alice","items":{"burger":1}})";

    auto none = Post(guarded, alice_order, nullptr);
    CHECK(none.status == 401);
    CHECK_THAT(none.body, Catch::Contains("UNAUTHENTICATED"));
    CHECK_THAT(HeaderOf(none, "WWW-Authenticate"), Catch::StartsWith("Bearer"));

    for (const char* bad : {"Bearer not-a-known-key-0000000", "Basic YWxpY2U6cHc=", "Bearer",
                            "alice-key-0123456789abcdef"}) {
        INFO(bad);
        auto unknown = Post(guarded, alice_order, bad);
        CHECK(unknown.status == 401);
        CHECK_THAT(HeaderOf(unknown, "WWW-Authenticate"), Catch::Contains("invalid_token"));
        CHECK_THAT(unknown.body, !Catch::Contains("alice-key"));
    }

    auto wrong_user = Post(guarded, alice_order, "Bearer bob-key-0123456789abcdef");
    CHECK(wrong_user.status == 403);
    CHECK_THAT(wrong_user.body, Catch::Contains("FORBIDDEN"));
    CHECK(inner_calls == 0);

    auto right_user = Post(guarded, alice_order, "Bearer alice-key-0123456789abcdef");
    CHECK(right_user.status == 202);
    CHECK(inner_calls == 1);

    // A body that is no valid order is the handler's to refuse (400), once the key is known.
    auto bad_body = Post(guarded, "{not json", "Bearer bob-key-0123456789abcdef");
    CHECK(bad_body.status == 202);
    CHECK(inner_calls == 2);
}

TEST_CASE("ProtectOrderRoutes guards the three order routes and leaves GET open",
          "[auth][ingress]") {
    http::Router router;
    auto ok = [](http::Request&&, http::Respond respond) { respond(http::Json(200, "ok")); };
    router.Add("POST", "/orders", ok);
    router.Add("POST", "/order", ok);
    router.Add("POST", "/orders/sync", ok);
    router.Add("GET", "/orders/{id}", ok);
    service::ProtectOrderRoutes(router, TwoKeys());
    for (const char* path : {"/orders", "/order", "/orders/sync"}) {
        INFO(path);
        http::Request request;
        request.method = "POST";
        http::SetTarget(request, path);
        request.body = R"({"user_id":"alice","items":{"burger":1}})";
        http::Response out;
        router.Handle(std::move(request), [&](http::Response r) { out = std::move(r); });
        CHECK(out.status == 401);
    }
    http::Request get;
    get.method = "GET";
    http::SetTarget(get, "/orders/x");
    http::Response out;
    router.Handle(std::move(get), [&](http::Response r) { out = std::move(r); });
    CHECK(out.status == 200);
}
