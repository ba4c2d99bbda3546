// Internal: the state behind Client (client.hpp): one connection whose channel 1 carries
// everything but Inspect(). When the broker closes channel 1 (a 404 or 406 on a declare, an
// unknown delivery tag) the next call opens it again, which voids its delivery tags, its
// confirm mode and its subscription. Single-threaded: the calling thread owns it.
#pragma once

#include <amqp.h>  // before amqp_framing.h, which needs it first
#include <amqp_framing.h>

#include <chrono>
#include <deque>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "broker/client.hpp"
#include "broker/impl/connection.hpp"

namespace orderflow::broker {

inline constexpr amqp_channel_t kClientChannel = 1;
// Inspect() probes on its own channel: a passive declare of a missing queue closes it.
inline constexpr amqp_channel_t kClientProbeChannel = 2;

class Client::Impl final {
  public:
    explicit Impl(impl::Connection connection) : connection_(std::move(connection)) {
        init_amqp_pool(&pool_, 4096);
    }
    ~Impl() {
        if (channel_open_) connection_.CloseChannel(kClientChannel);
        connection_.Close();
        empty_amqp_pool(&pool_);
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    // Channel 1 open on a live connection (reopened after the broker closed it).
    std::expected<void, std::string> Ready();

    // "" if the last RPC on channel 1 succeeded, else why (the channel is then closed).
    std::string Rpc(std::string_view what);

    amqp_connection_state_t State() const { return connection_.Get(); }

    Delivery ReadDelivery(const amqp_basic_deliver_t& deliver, amqp_message_t& message);

    // Frames other than the one a call waits for. Returns an error for a closed channel or
    // connection; deliveries are kept for Next(), stale confirms and returns are dropped.
    std::expected<void, std::string> Other(const amqp_frame_t& frame);

    PublishStatus Publish(const OutgoingMessage& message, std::chrono::milliseconds timeout);

    std::expected<std::optional<Delivery>, std::string> Next(std::chrono::milliseconds timeout);

    impl::Connection connection_;
    amqp_pool_t pool_;
    bool channel_open_ = false;
    bool confirm_ = false;
    bool consuming_ = false;
    uint64_t last_tag_ = 0;  // publish sequence number on channel 1
    QueueName consume_queue_;
    std::deque<Delivery> pending_;  // deliveries read while waiting for a confirm
};

}  // namespace orderflow::broker
