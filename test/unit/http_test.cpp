// Unit tests for src/http without a network: router, request helpers, JSON errors, address
// parsing. The server and client over loopback are in http_server_test.cpp.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <stdexcept>

#include "http/client.hpp"
#include "http/server.hpp"

namespace http = orderflow::http;

namespace {

// Runs a Respond synchronously into a value, for router tests.
http::Response Call(const http::Router& router, std::string method, std::string target) {
    http::Request request;
    request.method = std::move(method);
    http::SetTarget(request, target);
    http::Response out;
    out.status = -1;
    router.Handle(std::move(request), [&](http::Response r) { out = std::move(r); });
    return out;
}

http::Handler Echo(std::string tag) {
    return [tag](http::Request&& request, http::Respond respond) {
        std::string params;
        for (const auto& [k, v] : request.params) params += k + "=" + v + ";";
        respond(http::Json(200, tag + "|" + params));
    };
}

}  // namespace

// ---- router and helpers (no network) ----------------------------------------------------

TEST_CASE("the router dispatches on method and path and fills {name} parameters", "[http]") {
    http::Router router;
    router.Add("GET", "/orders/{id}", Echo("get"));
    router.Add("POST", "/orders", Echo("post"));
    router.Add("GET", "/a/{x}/b/{y}", Echo("ab"));
    CHECK(Call(router, "GET", "/orders/42").body == "get|id=42;");
    CHECK(Call(router, "POST", "/orders").body == "post|");
    CHECK(Call(router, "GET", "/a/1/b/two%20words").body == "ab|x=1;y=two words;");
}

TEST_CASE("an unknown path gets 404 NOT_FOUND as a JSON error", "[http]") {
    http::Router router;
    router.Add("GET", "/orders/{id}", Echo("get"));
    for (const auto* target : {"/nope", "/orders", "/orders/", "/orders/1/extra"}) {
        const auto response = Call(router, "GET", target);
        CHECK(response.status == 404);
        CHECK(response.body.find(R"({"error":{"code":"NOT_FOUND")") == 0);
    }
}

TEST_CASE("a known path with another method gets 405 and an Allow header", "[http]") {
    http::Router router;
    router.Add("POST", "/orders", Echo("post"));
    router.Add("GET", "/orders", Echo("list"));
    const auto response = Call(router, "DELETE", "/orders?x=1");
    CHECK(response.status == 405);
    CHECK(response.body.find("\"code\":\"METHOD_NOT_ALLOWED\"") != std::string::npos);
    REQUIRE(response.headers.size() == 1);
    CHECK(response.headers[0] == std::pair<std::string, std::string>{"Allow", "GET, POST"});
}

TEST_CASE("a literal segment wins over a parameter whatever the order of registration", "[http]") {
    http::Router router;
    router.Add("POST", "/orders/{id}", Echo("param"));
    router.Add("POST", "/orders/sync", Echo("sync"));
    CHECK(Call(router, "POST", "/orders/sync").body == "sync|");
    CHECK(Call(router, "POST", "/orders/abc").body == "param|id=abc;");
}

TEST_CASE("RouteOf names the matching pattern, or other", "[http]") {
    http::Router router;
    router.Add("GET", "/orders/{id}", Echo("x"));
    router.Add("GET", "/healthz", Echo("x"));
    CHECK(router.RouteOf("/orders/123") == "/orders/{id}");
    CHECK(router.RouteOf("/healthz") == "/healthz");
    CHECK(router.RouteOf("/secret/../etc") == "other");
}

TEST_CASE("query strings are percent-decoded with + as space - the path is kept as sent",
          "[http]") {
    http::Request request;
    http::SetTarget(request, "/a%20b+c?user=J%C3%B6rg+M&x=1%2B1&flag&=empty&bad=%zz%4&dup=1&dup=2");
    CHECK(request.target == "/a%20b+c?user=J%C3%B6rg+M&x=1%2B1&flag&=empty&bad=%zz%4&dup=1&dup=2");
    CHECK(request.path == "/a%20b+c");
    CHECK(request.query.at("user") == "J\xc3\xb6rg M");
    CHECK(request.query.at("x") == "1+1");
    CHECK(request.query.at("flag").empty());
    CHECK(request.query.at("bad") == "%zz%4");
    CHECK(request.query.at("dup") == "1");
    CHECK(http::PercentDecode("a+b%2f", false) == "a+b/");
}

TEST_CASE("an absolute-form target is reduced to its path and query", "[http]") {
    http::Request request;
    http::SetTarget(request, "http://example.com:8000/orders/1?delay_ms=5");
    CHECK(request.path == "/orders/1");
    CHECK(request.query.at("delay_ms") == "5");
}

TEST_CASE("Request::Header finds lower-cased names and returns null when absent", "[http]") {
    http::Request request;
    request.headers = {{"content-type", "application/json"}, {"idempotency-key", "k1"}};
    REQUIRE(request.Header("idempotency-key") != nullptr);
    CHECK(*request.Header("idempotency-key") == "k1");
    CHECK(request.Header("traceparent") == nullptr);
}

TEST_CASE("JsonError builds the error envelope and escapes its strings", "[http]") {
    const auto with = http::JsonError(400, "INVALID_JSON", "bad \"input\"", "line 1\n");
    CHECK(with.status == 400);
    CHECK(with.content_type == "application/json");
    CHECK(with.body ==
          R"({"error":{"code":"INVALID_JSON","message":"bad \"input\"","details":"line 1\n"}})");
    CHECK(http::JsonError(404, "NOT_FOUND", "x").body ==
          R"({"error":{"code":"NOT_FOUND","message":"x"}})");
}

TEST_CASE("ParseHostPort accepts host:port forms and rejects the rest", "[http]") {
    std::string host;
    uint16_t port = 0;
    CHECK(http::ParseHostPort("127.0.0.1:8000", host, port));
    CHECK((host == "127.0.0.1" && port == 8000));
    CHECK(http::ParseHostPort("[::1]:9", host, port));
    CHECK((host == "::1" && port == 9));
    CHECK(http::ParseHostPort(":8001", host, port));
    CHECK((host == "0.0.0.0" && port == 8001));
    CHECK(http::ParseHostPort("localhost:0", host, port));
    CHECK(port == 0);
    for (const auto* bad : {"127.0.0.1", "127.0.0.1:", "h:65536", "h:-1", "h:80x", "::1:80",
                            "[::1]80", "[]:80", "h:+80"}) {
        CAPTURE(bad);
        CHECK_FALSE(http::ParseHostPort(bad, host, port));
    }
}

TEST_CASE("the client rejects URLs it cannot serve", "[http]") {
    boost::asio::io_context io;
    CHECK_THROWS_AS(http::Client(io.get_executor(), "https://x:1"), std::invalid_argument);
    CHECK_THROWS_AS(http::Client(io.get_executor(), "http://:80"), std::invalid_argument);
    CHECK_THROWS_AS(http::Client(io.get_executor(), "http://h:8x"), std::invalid_argument);
    CHECK_NOTHROW(http::Client(io.get_executor(), "http://127.0.0.1:8001/"));
}
