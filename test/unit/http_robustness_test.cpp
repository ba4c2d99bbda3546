// Unit tests for the HTTP server's failure handling (throwing handlers, double answers, Stop,
// connection close) and the client's errors, over 127.0.0.1 on an ephemeral port.
#include <boost/asio/ip/tcp.hpp>

#include "http_harness.hpp"

using namespace orderflow::http_test;

TEST_CASE("a throwing handler yields 500 and the connection keeps serving", "[http][net]") {
    Harness h({}, [](http::Request&& request, http::Respond respond) {
        if (request.path == "/boom") throw std::runtime_error("handler bug");
        respond(http::Json(200, "{}"));
    });
    http::Client client(h.io.get_executor(), h.Url());
    auto boom = SendSync(client, "GET", "/boom");
    REQUIRE(boom.has_value());
    CHECK(boom->status == 500);
    auto fine = SendSync(client, "GET", "/fine");
    REQUIRE(fine.has_value());
    CHECK(fine->status == 200);
    CHECK(client.ConnectionsOpened() == 1);
}

TEST_CASE("a second call of Respond is ignored and does not disturb the next request",
          "[http][net]") {
    Harness h({}, [](http::Request&& request, http::Respond respond) {
        respond(http::Json(200, "\"" + request.path + "\""));
        respond(http::Json(500, "\"second\""));
    });
    http::Client client(h.io.get_executor(), h.Url());
    for (const auto* path : {"/one", "/two", "/three"}) {
        auto result = SendSync(client, "GET", path);
        REQUIRE(result.has_value());
        CHECK(result->status == 200);
        CHECK(result->body == "\"" + std::string(path) + "\"");
    }
}

TEST_CASE("on_complete sees each request's method, path and answer", "[http][net]") {
    std::mutex mutex;
    std::vector<std::string> seen;
    http::ServerOptions options;
    options.on_complete = [&](const http::Request& request, const http::Response& response,
                              std::chrono::nanoseconds elapsed) {
        std::lock_guard lock(mutex);
        seen.push_back(request.method + " " + request.path + " " + std::to_string(response.status) +
                       (elapsed.count() >= 0 ? "" : " ?"));
    };
    Harness h(options, [](http::Request&& request, http::Respond respond) {
        respond(http::Json(request.method == "POST" ? 202 : 200, "{}"));
    });
    http::Client client(h.io.get_executor(), h.Url());
    REQUIRE(SendSync(client, "GET", "/orders/1?x=2").has_value());
    REQUIRE(SendSync(client, "POST", "/orders", "{}").has_value());
    REQUIRE(SendSync(client, "POST", "/orders", std::string(70000, 'x')).has_value());
    std::lock_guard lock(mutex);
    CHECK(seen ==
          std::vector<std::string>{"GET /orders/1 200", "POST /orders 202", "POST /orders 413"});
}

TEST_CASE("Connection: close is honoured after the answer", "[http][net]") {
    Harness h({}, EchoHandler());
    RawSocket raw(h.server->Port());
    raw.Send("GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto data = raw.Read(5s);
    CHECK(data.find("HTTP/1.1 200 OK") == 0);
    CHECK(data.find("Connection: close") != std::string::npos);
    CHECK(raw.eof);
}

TEST_CASE("Stop closes open keep-alive connections and refuses new ones", "[http][net]") {
    Harness h({}, EchoHandler());
    const uint16_t port = h.server->Port();
    RawSocket raw(port);
    raw.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(raw.Read(5s, "GET /a ").find("HTTP/1.1 200 OK") == 0);
    h.server->Stop();
    raw.Read(5s);
    CHECK(raw.eof);
    http::Client client(h.io.get_executor(), h.Url());
    auto after = SendSync(client, "GET", "/b", {}, 2s);
    CHECK_FALSE(after.has_value());
}

TEST_CASE("many concurrent requests from several threads are all answered", "[http][net]") {
    Harness h(
        {},
        [](http::Request&& request, http::Respond respond) {
            respond(http::Json(200, request.body));
        },
        4);
    http::Client client(h.io.get_executor(), h.Url());
    std::atomic<int> ok{0};
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t) {
        senders.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                const std::string body = std::to_string(t * 1000 + i);
                auto result = SendSync(client, "POST", "/x", body);
                if (result && result->status == 200 && result->body == body) ++ok;
            }
        });
    }
    for (auto& s : senders) s.join();
    CHECK(ok == 200);
    // Keep-alive reuse: far fewer connections than requests.
    CHECK(client.ConnectionsOpened() <= 16);
}

TEST_CASE("the client reports a connect error when nothing listens", "[http][net]") {
    boost::asio::io_context io;
    // A bound but not listening socket: its port refuses connections while we hold it.
    boost::asio::ip::tcp::acceptor placeholder(io);
    placeholder.open(boost::asio::ip::tcp::v4());
    placeholder.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto port = placeholder.local_endpoint().port();
    auto work = boost::asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    {
        http::Client client(io.get_executor(), "http://127.0.0.1:" + std::to_string(port));
        auto result = SendSync(client, "GET", "/x", {}, 5s);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().kind == http::ClientError::Kind::kConnect);
        CHECK(client.ConnectionsOpened() == 0);
    }
    work.reset();
    io.stop();
    runner.join();
}

TEST_CASE("the client sends JSON bodies with a content type and a base path prefix",
          "[http][net]") {
    Harness h({}, [](http::Request&& request, http::Respond respond) {
        const auto* type = request.Header("content-type");
        respond(http::Json(200, request.path + "|" + (type ? *type : "none")));
    });
    http::Client client(h.io.get_executor(), h.Url() + "/api/");
    auto result = SendSync(client, "POST", "/reserve", "{}");
    REQUIRE(result.has_value());
    CHECK(result->body == "/api/reserve|application/json");
}
