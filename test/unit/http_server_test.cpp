// Unit tests for the HTTP server and client talking over 127.0.0.1 on an ephemeral port, with
// the io_context run by background threads. Timeouts are small; bounds are generous.
#include "http_harness.hpp"

using namespace orderflow::http_test;

TEST_CASE("a GET is answered with status, headers and body on an ephemeral port", "[http][net]") {
    Harness h({}, EchoHandler());
    http::Client client(h.io.get_executor(), h.Url());
    auto result = SendSync(client, "GET", "/hello?q=a+b%21", {}, 5s, {{"X-Test", "yes"}});
    REQUIRE(result.has_value());
    CHECK(result->status == 200);
    CHECK(result->body == "GET /hello ");
    REQUIRE(result->Header("content-type") != nullptr);
    CHECK(*result->Header("content-type") == "text/plain");
    REQUIRE(result->Header("server") != nullptr);
    CHECK(*result->Header("server") == "orderflow");
    REQUIRE(result->Header("x-echo") != nullptr);
    CHECK(*result->Header("x-echo") == "yes");
    REQUIRE(result->Header("x-query") != nullptr);
    CHECK(*result->Header("x-query") == "a b!");
}

TEST_CASE("a POST body reaches the handler intact", "[http][net]") {
    Harness h({}, EchoHandler());
    http::Client client(h.io.get_executor(), h.Url());
    const std::string body = R"({"user_id":"u1","items":{"burger":1}})" + std::string(3000, ' ');
    auto result = SendSync(client, "POST", "/orders", body);
    REQUIRE(result.has_value());
    CHECK(result->status == 200);
    CHECK(result->body == "POST /orders " + body);
}

TEST_CASE("a handler may answer later from another thread", "[http][net]") {
    std::vector<std::thread> workers;
    std::mutex mutex;
    Harness h({}, [&](http::Request&&, http::Respond respond) {
        std::lock_guard lock(mutex);
        workers.emplace_back([respond] {
            std::this_thread::sleep_for(50ms);
            respond(http::Json(202, R"({"status":"accepted"})"));
        });
    });
    http::Client client(h.io.get_executor(), h.Url());
    auto first = SendSync(client, "POST", "/orders", "{}");
    auto second = SendSync(client, "POST", "/orders", "{}");
    {
        std::lock_guard lock(mutex);
        for (auto& w : workers) w.join();
    }
    REQUIRE(first.has_value());
    REQUIRE(second.has_value());
    CHECK(first->status == 202);
    CHECK(second->body == R"({"status":"accepted"})");
}

TEST_CASE("a body over the limit gets 413 PAYLOAD_TOO_LARGE - one at the limit is accepted",
          "[http][net]") {
    std::atomic<int> handled{0};
    Harness h({}, [&](http::Request&& request, http::Respond respond) {
        ++handled;
        respond(http::Json(200, std::to_string(request.body.size())));
    });
    http::Client client(h.io.get_executor(), h.Url());
    auto at_limit = SendSync(client, "POST", "/orders", std::string(64 * 1024, 'a'));
    REQUIRE(at_limit.has_value());
    CHECK(at_limit->status == 200);
    CHECK(at_limit->body == "65536");
    auto over = SendSync(client, "POST", "/orders", std::string(64 * 1024 + 1, 'a'));
    REQUIRE(over.has_value());
    CHECK(over->status == 413);
    CHECK(over->body.find(R"({"error":{"code":"PAYLOAD_TOO_LARGE")") == 0);
    CHECK(handled == 1);
}

TEST_CASE("two requests in a row reuse one keep-alive connection", "[http][net]") {
    Harness h({}, EchoHandler());
    http::Client client(h.io.get_executor(), h.Url());
    for (int i = 0; i < 3; ++i) {
        auto result = SendSync(client, "GET", "/x");
        REQUIRE(result.has_value());
        CHECK(result->status == 200);
    }
    CHECK(client.ConnectionsOpened() == 1);
}

TEST_CASE("a pooled connection the server closed while idle is replaced transparently",
          "[http][net]") {
    http::ServerOptions options;
    options.idle_timeout = 100ms;
    Harness h(options, EchoHandler());
    http::Client client(h.io.get_executor(), h.Url());
    REQUIRE(SendSync(client, "GET", "/a").has_value());
    std::this_thread::sleep_for(400ms);  // the server drops the idle connection meanwhile
    auto result = SendSync(client, "GET", "/b");
    REQUIRE(result.has_value());
    CHECK(result->status == 200);
    CHECK(client.ConnectionsOpened() == 2);
}

TEST_CASE("the header timeout closes a connection that sends half a header", "[http][net]") {
    http::ServerOptions options;
    options.header_timeout = 200ms;  // everything else stays at tens of seconds
    Harness h(options, EchoHandler());
    RawSocket raw(h.server->Port());
    raw.Send("GET /slow HTTP/1.1\r\nHost: x\r\n");
    const auto data = raw.Read(5s);
    CHECK(raw.eof);
    CHECK(data.find("200") == std::string::npos);
}

TEST_CASE("the idle timeout closes a keep-alive connection with no next request", "[http][net]") {
    http::ServerOptions options;
    options.idle_timeout = 200ms;
    Harness h(options, EchoHandler());
    RawSocket raw(h.server->Port());
    raw.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(raw.Read(5s, "GET /a ").find("HTTP/1.1 200 OK") == 0);
    CHECK_FALSE(raw.eof);
    raw.Read(5s);
    CHECK(raw.eof);
}

TEST_CASE("malformed HTTP gets 400 BAD_REQUEST and the connection closes", "[http][net]") {
    Harness h({}, EchoHandler());
    RawSocket raw(h.server->Port());
    raw.Send("THIS IS NOT HTTP\r\n\r\n");
    const auto data = raw.Read(5s);
    CHECK(data.find("HTTP/1.1 400 Bad Request") == 0);
    CHECK(data.find("\"code\":\"BAD_REQUEST\"") != std::string::npos);
    CHECK(raw.eof);
}

TEST_CASE("Expect: 100-continue gets an interim answer before the body is sent", "[http][net]") {
    Harness h({}, EchoHandler());
    RawSocket raw(h.server->Port());
    raw.Send("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    CHECK(raw.Read(5s, "\r\n\r\n").find("HTTP/1.1 100 Continue\r\n") == 0);
    raw.Send("hello");
    CHECK(raw.Read(5s, "POST /e hello").find("HTTP/1.1 200 OK") == 0);
}

TEST_CASE("connections beyond max_connections are refused until a slot frees", "[http][net]") {
    http::ServerOptions options;
    options.max_connections = 1;
    Harness h(options, EchoHandler());
    RawSocket holder(h.server->Port());
    holder.Send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(holder.Read(5s, "GET /hold ").find("HTTP/1.1 200 OK") == 0);

    http::Client client(h.io.get_executor(), h.Url());
    auto refused = SendSync(client, "GET", "/second");
    CHECK((!refused.has_value() || refused->status == 503));

    holder.Close();
    bool served = false;
    for (int i = 0; i < 100 && !served; ++i) {  // the server notices the close asynchronously
        auto retry = SendSync(client, "GET", "/third");
        served = retry.has_value() && retry->status == 200;
        if (!served) std::this_thread::sleep_for(50ms);
    }
    CHECK(served);
}

TEST_CASE("the client reports a timeout when the handler does not answer in time", "[http][net]") {
    std::mutex mutex;
    std::vector<http::Respond> parked;
    Harness h({}, [&](http::Request&&, http::Respond respond) {
        std::lock_guard lock(mutex);
        parked.push_back(std::move(respond));
    });
    http::Client client(h.io.get_executor(), h.Url());
    const auto start = std::chrono::steady_clock::now();
    auto result = SendSync(client, "POST", "/reserve", "{}", 200ms);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == http::ClientError::Kind::kTimeout);
    CHECK(std::chrono::steady_clock::now() - start < 10s);
    std::lock_guard lock(mutex);
    for (auto& respond : parked) respond(http::Json(200, "{}"));  // late answers are dropped
    // A Respond keeps its session alive; sessions must go before the harness's io_context.
    parked.clear();
}

TEST_CASE("the handler timeout answers 504 for a handler that never responds", "[http][net]") {
    http::ServerOptions options;
    options.handler_timeout = 200ms;
    Harness h(options, [](http::Request&&, http::Respond) {});
    http::Client client(h.io.get_executor(), h.Url());
    auto result = SendSync(client, "GET", "/stuck");
    REQUIRE(result.has_value());
    CHECK(result->status == 504);
}

TEST_CASE("Drain waits for the answer the handler holds and closes the idle connections",
          "[http][net]") {
    std::promise<http::Respond> held;
    Harness h({}, [&](http::Request&& request, http::Respond respond) {
        if (request.path == "/slow") return held.set_value(std::move(respond));
        respond(http::Json(200, "{}"));
    });
    RawSocket busy(h.server->Port());
    busy.Send("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    auto holder = held.get_future();
    REQUIRE(holder.wait_for(5s) == std::future_status::ready);
    auto respond = holder.get();  // the handler has the request and has not answered
    RawSocket idle(h.server->Port());
    RawSocket half(h.server->Port());
    half.Send("GET /x HTTP/1.1\r\nHost: t\r\n");  // not a whole request: nothing started
    std::this_thread::sleep_for(50ms);

    auto drained = std::async(std::launch::async, [&] { return h.server->Drain(5s); });
    CHECK(drained.wait_for(300ms) == std::future_status::timeout);  // waits for /slow
    CHECK(idle.Read(2s).empty());
    CHECK(idle.eof);
    CHECK(half.Read(2s).empty());
    CHECK(half.eof);
    respond(http::Json(202, R"({"status":"accepted"})"));
    CHECK(drained.get());
    const auto answer = busy.Read(2s, R"({"status":"accepted"})");
    CHECK(answer.starts_with("HTTP/1.1 202"));
    CHECK(answer.find("Connection: close") != std::string::npos);
}

TEST_CASE("Drain gives up after its timeout when the handler never answers", "[http][net]") {
    std::promise<http::Respond> held;
    Harness h({},
              [&](http::Request&&, http::Respond respond) { held.set_value(std::move(respond)); });
    RawSocket busy(h.server->Port());
    busy.Send("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    auto holder = held.get_future();
    REQUIRE(holder.wait_for(5s) == std::future_status::ready);
    CHECK_FALSE(h.server->Drain(200ms));
}
