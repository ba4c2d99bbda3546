// Connection I/O for the load generator; see connection.hpp.
#include "load/impl/connection.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/read.hpp>

namespace orderflow::load::impl {

namespace asio = boost::asio;
namespace beast = boost::beast;

Connection::Connection(asio::io_context& io, const Target& target, Listener& listener, size_t slot)
    : target_(target), listener_(listener), slot_(slot), stream_(io) {}

void Connection::Send(Clock::time_point intended) {
    intended_ = intended;
    busy_ = true;
    if (open_) {
        Write();
    } else {
        Connect();
    }
}

void Connection::Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    open_ = false;
    buffer_.clear();
}

void Connection::Connect() {
    ++connects_;
    stream_.expires_after(target_.timeout);
    stream_.async_connect(target_.endpoints,
                          [this](const beast::error_code& ec, const asio::ip::tcp::endpoint&) {
                              if (ec) {
                                  Close();
                                  Finish(0, Failure::kConnect);
                                  return;
                              }
                              open_ = true;
                              beast::error_code ignored;
                              // One write per request: no reason to let Nagle hold it back.
                              stream_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
                              Write();
                          });
}

void Connection::Write() {
    const std::string* bytes = &target_.request->Fixed();
    if (target_.request->HasPlaceholders()) {
        target_.request->Render(target_.next_seq->fetch_add(1, std::memory_order_relaxed),
                                rendered_);
        bytes = &rendered_;
    }
    // One deadline for writing and reading: the expiry is a time point, not a per-call span.
    stream_.expires_after(target_.timeout);
    asio::async_write(
        stream_, asio::buffer(*bytes), [this](const beast::error_code& ec, std::size_t) {
            if (ec) {
                Close();
                Finish(0, ec == beast::error::timeout ? Failure::kTimeout : Failure::kIo);
                return;
            }
            Read();
        });
}

void Connection::Read() {
    parser_.emplace();
    beast::http::async_read(
        stream_, buffer_, *parser_, [this](const beast::error_code& ec, std::size_t) {
            if (ec) {
                Close();
                Finish(0, ec == beast::error::timeout ? Failure::kTimeout : Failure::kIo);
                return;
            }
            const int status = parser_->Status();
            if (!parser_->keep_alive()) Close();
            Finish(status, std::nullopt);
        });
}

void Connection::Finish(int status, std::optional<Failure> failure) {
    busy_ = false;
    Completion completion;
    completion.intended = intended_;
    completion.done = Clock::now();
    completion.status = status;
    completion.failure = failure;
    listener_.OnComplete(*this, completion);
}

}  // namespace orderflow::load::impl
