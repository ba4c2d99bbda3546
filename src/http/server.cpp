// HTTP/1.1 server: the listener (accept loop, connection cap, Stop); see server.hpp. The
// connections themselves are in session.cpp, the one server file that includes Beast.
// Threading: the acceptor and its retry timer belong to the listener's strand; each
// connection gets a strand of its own, so the io_context may be run by many threads.
#include "http/server.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <thread>

#include "http/impl/session.hpp"
#include "telemetry/log.hpp"

namespace orderflow::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using impl::ServerState;

namespace {

// Said to a connection beyond max_connections before it is closed.
constexpr std::string_view kTooManyConnections =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Server: orderflow\r\n"
    "Content-Type: application/json\r\n"
    "Connection: close\r\n"
    "Content-Length: 88\r\n"
    "\r\n"
    R"({"error":{"code":"TOO_MANY_CONNECTIONS","message":"The server is at its connection cap"}})";

// Best effort and never blocking: the accept loop must not wait on one client.
void Reject(tcp::socket& socket) {
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(kTooManyConnections.data(), kTooManyConnections.size()), ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
}

}  // namespace

size_t EffectiveConnectionCap(size_t requested, uint64_t fd_limit, size_t reserve) {
    if (fd_limit == RLIM_INFINITY) return requested;
    const uint64_t room = fd_limit > reserve ? fd_limit - reserve : 1;
    return static_cast<size_t>(std::max<uint64_t>(1, std::min<uint64_t>(requested, room)));
}

class Server::Impl final : public std::enable_shared_from_this<Impl> {
  public:
    Impl(asio::io_context& io, ServerOptions options, Handler handler)
        : io_(io),
          strand_(asio::make_strand(io)),
          acceptor_(strand_),
          retry_timer_(strand_),
          state_(std::make_shared<ServerState>()) {
        state_->options = std::move(options);
        state_->handler = std::move(handler);
    }

    std::expected<void, std::string> Start() {
        if (started_) return std::unexpected("server already started");
        const auto& options = state_->options;
        boost::system::error_code ec;
        tcp::endpoint endpoint;
        const auto address = asio::ip::make_address(options.address, ec);
        if (!ec) {
            endpoint = tcp::endpoint(address, options.port);
        } else {
            // A host name ("localhost"): resolve once, at start-up, synchronously.
            tcp::resolver resolver(io_);
            auto results = resolver.resolve(options.address, std::to_string(options.port), ec);
            if (ec || results.empty()) {
                return std::unexpected(fmt::format("cannot resolve {}: {}", options.address,
                                                   ec ? ec.message() : "no address"));
            }
            endpoint = results.begin()->endpoint();
        }
        acceptor_.open(endpoint.protocol(), ec);
        if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor_.bind(endpoint, ec);
        if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            acceptor_.close();
            return std::unexpected(fmt::format("cannot listen on {}:{}: {}", options.address,
                                               options.port, ec.message()));
        }
        port_ = acceptor_.local_endpoint(ec).port();
        if (rlimit limit{}; ::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
            const auto cap = EffectiveConnectionCap(options.max_connections, limit.rlim_cur);
            if (cap < options.max_connections) {
                telemetry::Log(telemetry::LogLevel::kWarn,
                               "connection cap lowered to fit the file descriptor limit",
                               {{"max_connections", static_cast<int64_t>(cap)},
                                {"nofile", static_cast<int64_t>(limit.rlim_cur)}});
                state_->options.max_connections = cap;
            }
        }
        started_ = true;
        DoAccept();
        return {};
    }

    uint16_t Port() const { return port_; }

    void Stop() { Close(impl::CloseSession); }

    bool Drain(std::chrono::milliseconds timeout) {
        Close(impl::CloseSessionIfIdle);
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (state_->handling.load() > 0) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return true;
    }

  private:
    // Stops accepting and starting requests, then applies `close` to every open session.
    void Close(void (*close)(const std::shared_ptr<impl::Session>&)) {
        state_->stopped = true;
        // The acceptor belongs to the strand; so does the sweep, which therefore sees every
        // session the accept loop registered before the acceptor closed.
        asio::dispatch(strand_, [self = shared_from_this(), close] {
            boost::system::error_code ec;
            self->acceptor_.close(ec);
            self->retry_timer_.cancel();
            std::vector<std::weak_ptr<impl::Session>> sessions;
            {
                std::lock_guard lock(self->state_->mutex);
                for (const auto& [key, session] : self->state_->sessions)
                    sessions.push_back(session);
            }
            for (const auto& weak : sessions) {
                if (auto session = weak.lock()) close(session);
            }
        });
    }

    void DoAccept() {
        acceptor_.async_accept(
            asio::make_strand(io_),
            [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
                try {
                    self->OnAccept(ec, std::move(socket));
                } catch (const std::exception& e) {
                    telemetry::Log(telemetry::LogLevel::kError, "accept handler failed",
                                   {{"error", e.what()}});
                    self->RetryAcceptLater();
                }
            });
    }

    void OnAccept(const boost::system::error_code& ec, tcp::socket socket) {
        if (state_->stopped || !acceptor_.is_open()) return;
        if (ec) {
            if (ec == asio::error::operation_aborted) return;
            // Typically EMFILE: pause instead of spinning on an error that persists.
            telemetry::Log(telemetry::LogLevel::kWarn, "accept failed", {{"error", ec.message()}});
            RetryAcceptLater();
            return;
        }
        // Only this strand increments, so the check and the increment cannot race.
        if (state_->live.load() >= state_->options.max_connections) {
            Reject(socket);
        } else {
            impl::StartSession(std::move(socket), state_);
        }
        DoAccept();
    }

    void RetryAcceptLater() {
        retry_timer_.expires_after(std::chrono::milliseconds(100));
        retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec && !self->state_->stopped && self->acceptor_.is_open()) self->DoAccept();
        });
    }

    asio::io_context& io_;
    asio::strand<asio::io_context::executor_type> strand_;
    tcp::acceptor acceptor_;
    asio::steady_timer retry_timer_;
    std::shared_ptr<ServerState> state_;
    std::atomic<uint16_t> port_{0};
    bool started_ = false;
};

Server::Server(asio::io_context& io, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler))) {}

Server::~Server() { impl_->Stop(); }

std::expected<void, std::string> Server::Start() { return impl_->Start(); }

uint16_t Server::Port() const { return impl_->Port(); }

void Server::Stop() { impl_->Stop(); }

bool Server::Drain(std::chrono::milliseconds timeout) { return impl_->Drain(timeout); }

}  // namespace orderflow::http
