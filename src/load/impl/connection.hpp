// One keep-alive HTTP/1.1 connection of a load worker: connect when needed, write the
// pre-serialized request, read the answer's status, report. It does no scheduling and
// no recording: its owner decides what to send next.
//
// Threading: a connection lives on its worker's io_context (one thread) and is only
// touched from there; handlers capture `this`, which the worker keeps alive until its
// io_context has run out of work.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "load/impl/response_sink.hpp"
#include "load/request_template.hpp"
#include "load/result.hpp"

namespace orderflow::load::impl {

using Clock = std::chrono::steady_clock;

// Read-only state shared by every connection of every worker (plus two atomic counters).
struct Target {
    std::vector<boost::asio::ip::tcp::endpoint> endpoints;
    const RequestTemplate* request = nullptr;
    std::chrono::milliseconds timeout{30000};
    std::atomic<uint64_t>* next_seq = nullptr;  // {{seq}} values, unique across workers
};

struct Completion {
    Clock::time_point intended;  // when the request should have been sent
    Clock::time_point done;
    int status = 0;                  // the answer's status, when there is one
    std::optional<Failure> failure;  // set instead of status on transport failures
};

class Connection final {
  public:
    class Listener {
      public:
        // Called once per Send, after the connection's own state is settled: the listener
        // may Send again (or Close) from inside.
        virtual void OnComplete(Connection& connection, const Completion& completion) = 0;

      protected:
        ~Listener() = default;
    };

    Connection(boost::asio::io_context& io, const Target& target, Listener& listener, size_t slot);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Sends one request (connecting first when closed); `intended` is the time latency is
    // measured from. Not while Busy().
    void Send(Clock::time_point intended);
    void Close();
    bool Open() const { return open_; }
    bool Busy() const { return busy_; }
    uint64_t ConnectsStarted() const { return connects_; }
    size_t Slot() const { return slot_; }  // the owner's index for it

  private:
    void Connect();
    void Write();
    void Read();
    void Finish(int status, std::optional<Failure> failure);

    const Target& target_;
    Listener& listener_;
    size_t slot_;
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<ResponseSink> parser_;
    std::string rendered_;  // the request, when it has {{seq}} placeholders
    Clock::time_point intended_;
    bool open_ = false;
    bool busy_ = false;
    uint64_t connects_ = 0;
};

}  // namespace orderflow::load::impl
