// Publisher with publisher confirms and the mandatory flag.
//
// Threading: one internal thread owns the AMQP connection and is the only code that
// touches it. Publish() may be called from any thread: it enqueues and returns. The
// thread writes messages as they come (up to max_in_flight unconfirmed), reads
// basic.ack / basic.nack (multiple=true handled) and basic.return, and runs each
// message's callback exactly once on the publisher thread. Callbacks must not block:
// hand the result to your own executor (e.g. asio::post).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>

#include "broker/connection_options.hpp"
#include "broker/message.hpp"
#include "broker/topology.hpp"

namespace orderflow::broker {

enum class PublishStatus {
    kConfirmed,     // broker took responsibility (persisted for durable queues)
    kNacked,        // broker refused it (basic.nack)
    kUnroutable,    // mandatory and no queue bound: basic.return
    kNotConnected,  // no connection (or it dropped before the confirm): outcome unknown
    kStopped,       // the publisher is shutting down
};
std::string_view StatusName(PublishStatus status);

using PublishCallback = std::function<void(PublishStatus)>;

struct PublisherStats {
    uint64_t published = 0;
    uint64_t confirmed = 0;
    uint64_t nacked = 0;
    uint64_t returned = 0;
    uint64_t failed = 0;  // not connected / stopped
};

class Publisher final {
  public:
    struct Options {
        ConnectionOptions connection;
        std::string app_id;           // default for messages without one
        Topology topology;            // declared on every (re)connect; may be empty
        size_t max_in_flight = 4096;  // unconfirmed messages on the wire
        std::function<void(bool connected)> on_connection_change;  // publisher thread
    };

    explicit Publisher(Options options);
    ~Publisher();  // Stop()
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;

    void Start();
    // Thread-safe. While disconnected the callback gets kNotConnected at once.
    void Publish(OutgoingMessage message, PublishCallback callback);
    // Convenience for threads that may block (consumers, tools).
    std::future<PublishStatus> Publish(OutgoingMessage message);
    bool Connected() const;
    PublisherStats Stats() const;
    // Stops taking messages, waits up to `drain` for outstanding confirms, closes.
    void Stop(std::chrono::milliseconds drain = std::chrono::seconds(5));

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace orderflow::broker
