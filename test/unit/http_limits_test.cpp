// Unit tests for what bounds a misbehaving client: slow (slowloris) headers and bodies,
// silent connections, a client that never reads its answer, oversized headers, malformed
// framing, and the connection cap's fit to the file descriptor limit. Over 127.0.0.1.
#include <sys/resource.h>

#include "http_harness.hpp"

using namespace orderflow::http_test;

namespace {

// Sends `data` one byte every `gap` until the peer closes or the data runs out; returns how
// long the server let it go on.
std::chrono::milliseconds Trickle(RawSocket& raw, std::string_view data,
                                  std::chrono::milliseconds gap) {
    const auto start = std::chrono::steady_clock::now();
    for (const char c : data) {
        if (::send(raw.fd, &c, 1, MSG_NOSIGNAL) != 1) break;
        std::this_thread::sleep_for(gap);
        pollfd p{raw.fd, POLLIN, 0};
        if (::poll(&p, 1, 0) > 0) break;  // an answer or the close: the server gave up
    }
    raw.Read(5s);
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
}

// True once a fresh client gets 200 for GET /probe (the server noticed freed slots).
bool ServedSoon(Harness& h, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
        RawSocket probe(h.server->Port());
        probe.Send("GET /probe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        if (probe.Read(2s).find("HTTP/1.1 200 OK") == 0) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

}  // namespace

TEST_CASE("a header trickled a byte at a time is cut at the header timeout", "[http][net]") {
    http::ServerOptions options;
    options.header_timeout = 300ms;
    Harness h(options, EchoHandler());
    RawSocket raw(h.server->Port());
    // Never quiet for long, so only a bound on the whole header can stop it (slowloris).
    std::string header = "GET /slow HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 200; ++i) header += "X-Pad: y\r\n";
    const auto lasted = Trickle(raw, header, 20ms);
    CHECK(raw.eof);
    CHECK(lasted < 3s);
}

TEST_CASE("a body trickled a byte at a time is cut, and the handler never sees it", "[http][net]") {
    http::ServerOptions options;
    options.header_timeout = 300ms;
    std::atomic<int> handled{0};
    Harness h(options, [&](http::Request&&, http::Respond respond) {
        ++handled;
        respond(http::Json(200, "{}"));
    });
    RawSocket raw(h.server->Port());
    raw.Send("POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    const auto lasted = Trickle(raw, std::string(1000, 'x'), 20ms);
    CHECK(raw.eof);
    CHECK(lasted < 3s);
    CHECK(handled == 0);
}

TEST_CASE("silent connections cannot hold every slot for longer than the header timeout",
          "[http][net]") {
    http::ServerOptions options;
    options.max_connections = 4;
    options.header_timeout = 300ms;
    Harness h(options, EchoHandler());
    std::vector<std::unique_ptr<RawSocket>> silent;
    for (int i = 0; i < 4; ++i) silent.push_back(std::make_unique<RawSocket>(h.server->Port()));
    // The slots are full: a fifth connection is refused at once...
    RawSocket fifth(h.server->Port());
    fifth.Send("GET /fifth HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto refused = fifth.Read(5s);
    CHECK(refused.find("503") != std::string::npos);
    CHECK(refused.find("TOO_MANY_CONNECTIONS") != std::string::npos);
    // ...until the silent ones time out, without their sending or closing anything.
    CHECK(ServedSoon(h, 5s));
    for (auto& socket : silent) {
        socket->Read(2s);
        CHECK(socket->eof);
    }
}

TEST_CASE("a client that never reads its answer loses its slot after the idle timeout",
          "[http][net]") {
    http::ServerOptions options;
    options.max_connections = 1;
    options.idle_timeout = 300ms;
    // Far more than the socket buffers of both ends hold, so the write blocks.
    const std::string big(32 << 20, 'x');
    Harness h(options, [&](http::Request&& request, http::Respond respond) {
        http::Response response;
        response.content_type = "text/plain";
        response.body = request.path == "/big" ? big : "ok";
        respond(std::move(response));
    });
    RawSocket greedy(h.server->Port());
    int small = 4096;  // a small receive window, so the server's write stalls sooner
    ::setsockopt(greedy.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    greedy.Send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    // It never reads. The slot must come free anyway.
    CHECK(ServedSoon(h, 10s));
}

TEST_CASE("a header over 8 KiB gets 431 and the connection closes", "[http][net]") {
    Harness h({}, EchoHandler());
    RawSocket raw(h.server->Port());
    raw.Send("GET /big-header HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') +
             "\r\n\r\n");
    const auto data = raw.Read(5s);
    CHECK(data.find("HTTP/1.1 431") == 0);
    CHECK(data.find("\"code\":\"HEADER_TOO_LARGE\"") != std::string::npos);
    CHECK(raw.eof);
}

TEST_CASE("malformed framing is answered 400 or dropped, and the server keeps serving",
          "[http][net]") {
    http::ServerOptions options;
    options.header_timeout = 1s;  // input the parser waits on is dropped soon
    Harness h(options, EchoHandler());
    const std::vector<std::string> inputs = {
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        "GET /\0nul HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
        "\r\n\r\n\r\n",
        std::string("\xff\xfe\x00\x01", 4) + "\r\n\r\n",
    };
    for (const auto& input : inputs) {
        INFO(input);
        RawSocket raw(h.server->Port());
        raw.Send(input);
        const auto data = raw.Read(5s);
        CHECK(raw.eof);
        CHECK(data.find("HTTP/1.1 200") == std::string::npos);
        if (!data.empty()) CHECK(data.find("HTTP/1.1 4") == 0);
    }
    CHECK(ServedSoon(h, 5s));
}

TEST_CASE("the connection cap leaves file descriptors for the rest of the process", "[http]") {
    CHECK(http::EffectiveConnectionCap(2048, 1024) == 1024 - 128);
    CHECK(http::EffectiveConnectionCap(2048, 65536) == 2048);
    CHECK(http::EffectiveConnectionCap(2048, RLIM_INFINITY) == 2048);
    CHECK(http::EffectiveConnectionCap(2048, 100) == 1);  // absurd limits still serve one
}
