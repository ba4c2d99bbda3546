// One HTTP/1.1 connection: read a request, hand it to the handler, write its answer, repeat
// while keep-alive holds. Threading: everything here runs on the connection's strand except
// the Respond callback, which only posts back onto it. Requests are served one at a time.
// Untrusted input never throws out of a completion handler: every error closes the socket.
#include "http/impl/session.hpp"

#include <fmt/format.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "http/impl/wire.hpp"
#include "telemetry/log.hpp"

namespace orderflow::http::impl {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

// After an answer that ends the connection, unread input is drained for this long before
// closing: closing with unread data sends a RST that can destroy the answer in flight.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr size_t kLingerBytes = 1 << 20;

}  // namespace

class Session final : public std::enable_shared_from_this<Session> {
    // Defined first: their deduced return types are needed by the members below.
    // Completion handlers keep the session alive and never let an exception escape.
    template <typename F>
    auto Guard(F f) {
        return [self = shared_from_this(), f = std::move(f)](auto&&... args) mutable {
            try {
                f(*self, std::forward<decltype(args)>(args)...);
            } catch (const std::exception& e) {
                self->Crash(e.what());
            } catch (...) {
                self->Crash("unknown exception");
            }
        };
    }

    template <typename... Args>
    auto Wrap(void (Session::*fn)(Args...)) {
        return Guard([fn](Session& self, Args... args) { (self.*fn)(std::move(args)...); });
    }

  public:
    Session(tcp::socket socket, std::shared_ptr<ServerState> state)
        : executor_(socket.get_executor()),
          stream_(std::move(socket)),
          handler_timer_(executor_),
          state_(std::move(state)) {}

    ~Session() {
        Uncount();
        Release();
        std::lock_guard lock(state_->mutex);
        state_->sessions.erase(this);
    }

    void Start() { asio::post(executor_, Wrap(&Session::ReadHeader)); }

    void Close() { asio::post(executor_, Wrap(&Session::DoClose)); }

    void CloseIfIdle() {
        asio::post(executor_, Guard([](Session& self) {
                       if (!self.counted_ && !self.writing_) self.DoClose();
                   }));
    }

  private:
    void Crash(std::string_view what) {
        telemetry::Log(telemetry::LogLevel::kError, "http session failed", {{"error", what}});
        DoClose();
    }

    // Between keep-alive requests the idle timeout applies until the first byte arrives;
    // from then on the header timeout, so a slow header cannot hide behind the idle budget.
    void WaitForRequest() {
        if (closed_ || state_->stopped) return DoClose();
        if (buffer_.size() > 0) return ReadHeader();
        stream_.expires_after(state_->options.idle_timeout);
        stream_.async_read_some(buffer_.prepare(4096), Wrap(&Session::OnFirstBytes));
    }

    void OnFirstBytes(beast::error_code ec, std::size_t n) {
        if (ec) return DoClose();  // idle timeout, client gone or Stop()
        buffer_.commit(n);
        ReadHeader();
    }

    void ReadHeader() {
        if (closed_) return;
        parser_.emplace();
        parser_->body_limit(state_->options.body_limit);
        stream_.expires_after(state_->options.header_timeout);
        bhttp::async_read_header(stream_, buffer_, *parser_, Wrap(&Session::OnHeader));
    }

    void OnHeader(beast::error_code ec, std::size_t) {
        if (ec) return OnReadError(ec);
        const auto& message = parser_->get();
        const auto expect = message.find(bhttp::field::expect);
        if (!parser_->is_done() && expect != message.end() &&
            beast::iequals(expect->value(), "100-continue")) {
            // curl and others wait (about 1 s) for this before sending a large body.
            auto interim = std::make_shared<bhttp::response<bhttp::empty_body>>(
                bhttp::status::continue_, message.version());
            bhttp::async_write(
                stream_, *interim,
                Guard([interim](Session& self, beast::error_code error, std::size_t) {
                    if (error) return self.DoClose();
                    self.ReadBody();
                }));
            return;
        }
        ReadBody();
    }

    void ReadBody() {
        if (closed_) return;
        if (parser_->is_done()) return Dispatch();
        // The header timeout also bounds the body: 64 KiB needs far less on any live link.
        stream_.expires_after(state_->options.header_timeout);
        bhttp::async_read(stream_, buffer_, *parser_, Wrap(&Session::OnBody));
    }

    void OnBody(beast::error_code ec, std::size_t) {
        if (ec) return OnReadError(ec);
        Dispatch();
    }

    void OnReadError(beast::error_code ec) {
        if (ec == bhttp::error::body_limit) {
            return Answer(
                JsonError(413, "PAYLOAD_TOO_LARGE",
                          fmt::format("The body exceeds {} bytes", state_->options.body_limit)),
                true);
        }
        if (ec == bhttp::error::header_limit) {
            return Answer(JsonError(431, "HEADER_TOO_LARGE", "The request header is too large"),
                          true);
        }
        if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
            ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
            return Answer(JsonError(400, "BAD_REQUEST", "Malformed HTTP request", ec.message()),
                          true);
        }
        // End of stream, a timeout, a reset or Stop(): nobody is left to answer.
        DoClose();
    }

    void Dispatch() {
        if (state_->stopped) {
            // Stopping: a request read now is not started, and says so (nothing was done).
            auto refusal = JsonError(503, "SHUTTING_DOWN", "The service is stopping",
                                     "nothing was done: retry, another replica may answer");
            refusal.headers.emplace_back("Retry-After", "1");
            return Answer(std::move(refusal), true);
        }
        stream_.expires_never();  // the handler timer takes over while the handler works
        auto& message = parser_->get();
        Request request = ToRequest(message);
        summary_ = request;  // on_complete's view of the request, without the body
        request.body = std::move(message.body());
        keep_alive_ = message.keep_alive();
        started_ = std::chrono::steady_clock::now();
        const uint64_t seq = ++seq_;
        awaiting_ = true;
        counted_ = true;
        state_->handling.fetch_add(1);
        handler_timer_.expires_after(state_->options.handler_timeout);
        handler_timer_.async_wait(Guard([seq](Session& self, beast::error_code ec) {
            if (!ec) self.OnHandlerTimeout(seq);
        }));

        auto once = std::make_shared<std::atomic<bool>>(false);
        Respond respond = [self = shared_from_this(), seq, once](Response response) {
            if (once->exchange(true)) {
                telemetry::Log(telemetry::LogLevel::kWarn, "respond called twice; ignored");
                return;
            }
            asio::post(self->executor_, [self, seq, response = std::move(response)]() mutable {
                try {
                    self->OnResponse(seq, std::move(response));
                } catch (const std::exception& e) {
                    self->Crash(e.what());
                }
            });
        };
        try {
            state_->handler(std::move(request), respond);
        } catch (const std::exception& e) {
            telemetry::Log(telemetry::LogLevel::kError, "http handler threw",
                           {{"path", summary_.path}, {"error", e.what()}});
            if (!once->load()) respond(JsonError(500, "INTERNAL", "Internal error"));
        }
    }

    void OnResponse(uint64_t seq, Response response) {
        // A late answer for a request that timed out, or for a closed connection, is dropped.
        if (closed_ || seq != seq_ || !awaiting_) return;
        Answer(std::move(response), !keep_alive_);
    }

    void OnHandlerTimeout(uint64_t seq) {
        if (closed_ || seq != seq_ || !awaiting_) return;
        telemetry::Log(telemetry::LogLevel::kWarn, "http handler did not answer in time",
                       {{"method", summary_.method}, {"path", summary_.path}});
        Answer(JsonError(504, "HANDLER_TIMEOUT", "The request was not handled in time"), true);
    }

    // Writes the answer to the current request (or to a request that could not be read).
    void Answer(Response response, bool close) {
        if (closed_) return;
        if (!awaiting_) {  // error answers: describe whatever of the request was parsed
            summary_ = parser_ ? ToRequest(parser_->get()) : Request{};
            started_ = std::chrono::steady_clock::now();
        }
        awaiting_ = false;
        handler_timer_.cancel();
        close = close || state_->stopped;
        const unsigned version = parser_ ? parser_->get().version() : 11;
        if (state_->options.on_complete) {
            try {
                state_->options.on_complete(summary_, response,
                                            std::chrono::steady_clock::now() - started_);
            } catch (const std::exception& e) {
                telemetry::Log(telemetry::LogLevel::kError, "on_complete threw",
                               {{"error", e.what()}});
            }
        }
        auto out = std::make_shared<bhttp::response<bhttp::string_body>>(
            ToBeastResponse(std::move(response), version, !close));
        stream_.expires_after(state_->options.idle_timeout);
        writing_ = true;
        bhttp::async_write(stream_, *out,
                           Guard([out, close](Session& self, beast::error_code ec, std::size_t) {
                               self.writing_ = false;
                               self.Uncount();  // answered (or the client is gone)
                               if (ec) return self.DoClose();
                               if (close) return self.Linger();
                               self.parser_.reset();
                               self.WaitForRequest();
                           }));
    }

    void Linger() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream_.expires_after(kLingerTime);
        DrainInput();
    }

    void DrainInput() {
        if (closed_) return;
        buffer_.clear();
        stream_.async_read_some(buffer_.prepare(16384),
                                Guard([](Session& self, beast::error_code ec, std::size_t n) {
                                    self.drained_ += n;
                                    if (ec || self.drained_ > kLingerBytes) return self.DoClose();
                                    self.DrainInput();
                                }));
    }

    void DoClose() {
        if (closed_) return;
        closed_ = true;
        awaiting_ = false;
        handler_timer_.cancel();
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream_.close();
        // Free the slot now: a handler may hold its Respond (and so this object) for longer.
        Release();
        Uncount();  // nobody is left to answer
    }

    void Uncount() {
        if (counted_) {
            counted_ = false;
            state_->handling.fetch_sub(1);
        }
    }

    void Release() {
        if (!released_) {
            released_ = true;
            state_->live.fetch_sub(1);
        }
    }

    const asio::any_io_executor executor_;  // the connection's strand
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    asio::steady_timer handler_timer_;
    std::shared_ptr<ServerState> state_;
    Request summary_;
    std::chrono::steady_clock::time_point started_;
    uint64_t seq_ = 0;
    size_t drained_ = 0;
    bool awaiting_ = false;
    bool keep_alive_ = false;
    bool closed_ = false;
    bool released_ = false;
    bool counted_ = false;  // holds one of state_->handling
    bool writing_ = false;  // an answer is being written
};

void StartSession(tcp::socket socket, const std::shared_ptr<ServerState>& state) {
    state->live.fetch_add(1);
    std::shared_ptr<Session> session;
    try {
        session = std::make_shared<Session>(std::move(socket), state);
    } catch (...) {
        state->live.fetch_sub(1);
        throw;
    }
    {
        std::lock_guard lock(state->mutex);
        state->sessions.emplace(session.get(), session);
    }
    session->Start();
}

void CloseSession(const std::shared_ptr<Session>& session) { session->Close(); }

void CloseSessionIfIdle(const std::shared_ptr<Session>& session) { session->CloseIfIdle(); }

}  // namespace orderflow::http::impl
