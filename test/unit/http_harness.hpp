// Test support for the HTTP unit tests: a server on background threads, a blocking wrapper
// around the async client, and a raw POSIX socket for clients that misbehave.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "http/client.hpp"
#include "http/server.hpp"

namespace http = orderflow::http;
using namespace std::chrono_literals;

namespace orderflow::http_test {

// A server on an io_context run by background threads.
struct Harness {
    Harness(http::ServerOptions options, http::Handler handler, int threads = 2) {
        server = std::make_unique<http::Server>(io, std::move(options), std::move(handler));
        auto started = server->Start();
        REQUIRE(started.has_value());
        REQUIRE(server->Port() != 0);
        for (int i = 0; i < threads; ++i) runners.emplace_back([this] { io.run(); });
    }
    ~Harness() {
        server->Stop();
        work.reset();
        io.stop();
        for (auto& t : runners) t.join();
    }
    std::string Url() const { return "http://127.0.0.1:" + std::to_string(server->Port()); }

    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{
        io.get_executor()};
    std::unique_ptr<http::Server> server;
    std::vector<std::thread> runners;
};

inline http::Handler EchoHandler() {
    return [](http::Request&& request, http::Respond respond) {
        http::Response response;
        response.content_type = "text/plain";
        response.body = request.method + " " + request.path + " " + request.body;
        if (const auto* v = request.Header("x-test")) response.headers.emplace_back("X-Echo", *v);
        if (auto it = request.query.find("q"); it != request.query.end()) {
            response.headers.emplace_back("X-Query", it->second);
        }
        respond(std::move(response));
    };
}

inline http::ClientResult SendSync(http::Client& client, std::string method, std::string target,
                                   std::string body = {}, std::chrono::milliseconds timeout = 5s,
                                   std::vector<std::pair<std::string, std::string>> headers = {}) {
    auto promise = std::make_shared<std::promise<http::ClientResult>>();
    auto future = promise->get_future();
    client.Send(std::move(method), std::move(target), std::move(body), std::move(headers), timeout,
                [promise](http::ClientResult result) { promise->set_value(std::move(result)); });
    REQUIRE(future.wait_for(20s) == std::future_status::ready);
    return future.get();
}

// Plain POSIX socket, so the tests can misbehave in ways a real client never would.
struct RawSocket {
    explicit RawSocket(uint16_t port) {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    }
    ~RawSocket() { Close(); }
    void Close() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
    void Send(std::string_view data) const {
        REQUIRE(::send(fd, data.data(), data.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(data.size()));
    }
    // Reads until `until` appears, the peer closes (eof) or `timeout` passes.
    std::string Read(std::chrono::milliseconds timeout, std::string_view until = {}) {
        std::string data;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!eof && std::chrono::steady_clock::now() < deadline) {
            if (!until.empty() && data.find(until) != std::string::npos) break;
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            char buf[4096];
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) {  // orderly close or reset: either way the server is done with us
                eof = true;
                break;
            }
            data.append(buf, static_cast<size_t>(n));
        }
        return data;
    }
    int fd = -1;
    bool eof = false;
};

}  // namespace orderflow::http_test
