// HTTP/1.1 client with keep-alive reuse; see client.hpp. Threading: the pool and every call
// live on one strand; Send only posts onto it. Each call has one deadline timer for the whole
// exchange, which closes the connection (and cancels the resolver) when it fires.
#include "http/client.hpp"

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <optional>
#include <stdexcept>

#include "telemetry/log.hpp"

namespace orderflow::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Connection {
    explicit Connection(const asio::any_io_executor& executor) : stream(executor) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    std::chrono::steady_clock::time_point idle_since;
};

// Beast 1.74 uses boost::string_view.
std::string_view Std(beast::string_view text) { return {text.data(), text.size()}; }

std::string Lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

const std::string* ClientResponse::Header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lower_name) return &value;
    }
    return nullptr;
}

class Client::Impl final : public std::enable_shared_from_this<Impl> {
  public:
    Impl(const asio::any_io_executor& executor, std::string_view base_url, ClientOptions options)
        : strand_(asio::make_strand(executor)), options_(options) {
        constexpr std::string_view kScheme = "http://";
        if (!base_url.starts_with(kScheme)) {
            throw std::invalid_argument(fmt::format("not an http:// URL: {}", base_url));
        }
        std::string_view rest = base_url.substr(kScheme.size());
        const size_t slash = rest.find('/');
        std::string_view authority = rest.substr(0, slash);
        prefix_ = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
        while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
        host_header_ = std::string(authority);
        port_ = "80";
        if (authority.starts_with('[')) {  // [IPv6]:port
            const size_t close = authority.find(']');
            if (close == std::string_view::npos) throw std::invalid_argument("bad IPv6 host");
            host_ = std::string(authority.substr(1, close - 1));
            if (close + 1 < authority.size()) {
                if (authority[close + 1] != ':') throw std::invalid_argument("bad URL authority");
                port_ = std::string(authority.substr(close + 2));
            }
        } else {
            const size_t colon = authority.rfind(':');
            host_ = std::string(authority.substr(0, colon));
            if (colon != std::string_view::npos) port_ = std::string(authority.substr(colon + 1));
        }
        if (host_.empty() || port_.empty() ||
            port_.find_first_not_of("0123456789") != std::string::npos || port_.size() > 5) {
            throw std::invalid_argument(fmt::format("bad URL: {}", base_url));
        }
    }

    // The pool: strand only.
    std::unique_ptr<Connection> TakeIdle() {
        const auto now = std::chrono::steady_clock::now();
        while (!idle_.empty()) {
            auto connection = std::move(idle_.back());  // most recent: least likely stale
            idle_.pop_back();
            if (connection->stream.socket().is_open() &&
                now - connection->idle_since < options_.idle_ttl) {
                return connection;
            }
            beast::error_code ec;
            connection->stream.socket().close(ec);
        }
        return nullptr;
    }

    void GiveBack(std::unique_ptr<Connection> connection) {
        if (closed_ || idle_.size() >= options_.max_idle_connections ||
            connection->buffer.size() != 0) {  // stray bytes: the framing is not trustworthy
            beast::error_code ec;
            connection->stream.socket().close(ec);
            return;
        }
        connection->idle_since = std::chrono::steady_clock::now();
        idle_.push_back(std::move(connection));
    }

    void CloseAll() {
        closed_ = true;
        for (auto& connection : idle_) {
            beast::error_code ec;
            connection->stream.socket().close(ec);
        }
        idle_.clear();
    }

    asio::strand<asio::any_io_executor> strand_;
    ClientOptions options_;
    std::string host_;
    std::string port_;
    std::string host_header_;
    std::string prefix_;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::atomic<uint64_t> opened_{0};
    bool closed_ = false;

    class Call;
};

// One request from Send to `done`; owned by its pending completion handlers.
class Client::Impl::Call final : public std::enable_shared_from_this<Call> {
  public:
    Call(std::shared_ptr<Impl> client, bhttp::request<bhttp::string_body> request,
         std::chrono::milliseconds timeout, std::function<void(ClientResult)> done)
        : client_(std::move(client)),
          request_(std::move(request)),
          timeout_(timeout),
          done_(std::move(done)),
          timer_(client_->strand_),
          resolver_(client_->strand_) {}

    void Start() {
        timer_.expires_after(timeout_);
        timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec) self->OnTimeout();
        });
        connection_ = client_->TakeIdle();
        if (connection_) {
            reused_ = true;
            Write();
        } else {
            Connect();
        }
    }

  private:
    void Connect() {
        reused_ = false;
        connection_ = std::make_unique<Connection>(client_->strand_);
        resolver_.async_resolve(
            client_->host_, client_->port_,
            [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
                if (self->finished_) return;
                if (ec) return self->Fail(ClientError::Kind::kConnect, "resolve", ec);
                self->connection_->stream.async_connect(
                    results, [self](beast::error_code error, const tcp::endpoint&) {
                        if (self->finished_) return;
                        if (error) return self->Fail(ClientError::Kind::kConnect, "connect", error);
                        self->client_->opened_.fetch_add(1);
                        beast::error_code ignored;
                        self->connection_->stream.socket().set_option(tcp::no_delay(true), ignored);
                        self->Write();
                    });
            });
    }

    void Write() {
        bhttp::async_write(connection_->stream, request_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               if (self->finished_) return;
                               if (ec) return self->RetryOrFail("write", ec);
                               self->Read();
                           });
    }

    void Read() {
        parser_.emplace();
        parser_->body_limit(client_->options_.response_body_limit);
        bhttp::async_read(connection_->stream, connection_->buffer, *parser_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (self->finished_) return;
                              if (ec) {
                                  if (self->parser_->got_some()) {
                                      return self->Fail(ClientError::Kind::kIo, "read", ec);
                                  }
                                  return self->RetryOrFail("read", ec);
                              }
                              self->OnResponse();
                          });
    }

    void RetryOrFail(std::string_view step, beast::error_code ec) {
        if (reused_ && !retried_ && !timed_out_) {
            // The server closed the idle connection under us; nothing was answered.
            retried_ = true;
            CloseConnection();
            return Connect();
        }
        Fail(ClientError::Kind::kIo, step, ec);
    }

    void OnResponse() {
        auto message = parser_->release();
        ClientResponse response;
        response.status = static_cast<int>(message.result_int());
        for (const auto& field : message) {
            response.headers.emplace_back(Lower(Std(field.name_string())),
                                          std::string(Std(field.value())));
        }
        const bool keep = message.keep_alive() && request_.keep_alive();
        response.body = std::move(message.body());
        if (keep) {
            client_->GiveBack(std::move(connection_));
        } else {
            CloseConnection();
        }
        Finish(std::move(response));
    }

    void OnTimeout() {
        if (finished_) return;
        timed_out_ = true;
        // Pending operations complete with operation_aborted and report the timeout.
        resolver_.cancel();
        CloseConnection();
        Finish(std::unexpected(ClientError{
            ClientError::Kind::kTimeout, fmt::format("no answer within {} ms", timeout_.count())}));
    }

    void Fail(ClientError::Kind kind, std::string_view step, beast::error_code ec) {
        CloseConnection();
        if (timed_out_) kind = ClientError::Kind::kTimeout;
        Finish(std::unexpected(ClientError{kind, fmt::format("{} {}:{}: {}", step, client_->host_,
                                                             client_->port_, ec.message())}));
    }

    void CloseConnection() {
        if (!connection_) return;
        beast::error_code ec;
        connection_->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        connection_->stream.socket().close(ec);
    }

    void Finish(ClientResult result) {
        if (finished_) return;
        finished_ = true;
        timer_.cancel();
        try {
            done_(std::move(result));
        } catch (const std::exception& e) {
            telemetry::Log(telemetry::LogLevel::kError, "http client callback threw",
                           {{"error", e.what()}});
        }
    }

    std::shared_ptr<Impl> client_;
    bhttp::request<bhttp::string_body> request_;
    std::chrono::milliseconds timeout_;
    std::function<void(ClientResult)> done_;
    asio::steady_timer timer_;
    tcp::resolver resolver_;
    std::unique_ptr<Connection> connection_;
    std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
    bool reused_ = false;
    bool retried_ = false;
    bool timed_out_ = false;
    bool finished_ = false;
};

Client::Client(asio::any_io_executor executor, std::string_view base_url, ClientOptions options)
    : impl_(std::make_shared<Impl>(executor, base_url, options)) {}

Client::~Client() {
    asio::post(impl_->strand_, [impl = impl_] { impl->CloseAll(); });
}

void Client::Send(std::string method, std::string target, std::string body,
                  std::vector<std::pair<std::string, std::string>> headers,
                  std::chrono::milliseconds timeout, std::function<void(ClientResult)> done) {
    bhttp::request<bhttp::string_body> request;
    request.version(11);
    request.method_string(method);
    request.target(impl_->prefix_ + (target.starts_with('/') ? target : "/" + target));
    request.set(bhttp::field::host, impl_->host_header_);
    request.set(bhttp::field::user_agent, "orderflow");
    bool has_content_type = false;
    for (auto& [name, value] : headers) {
        if (Lower(name) == "content-type") has_content_type = true;
        request.set(name, value);
    }
    if (!body.empty() && !has_content_type) {
        request.set(bhttp::field::content_type, "application/json");
    }
    request.body() = std::move(body);
    request.keep_alive(true);
    request.prepare_payload();
    auto call = std::make_shared<Impl::Call>(impl_, std::move(request), timeout, std::move(done));
    asio::post(impl_->strand_, [call] { call->Start(); });
}

uint64_t Client::ConnectionsOpened() const { return impl_->opened_.load(); }

}  // namespace orderflow::http
