// Client internals: channel upkeep, publish with confirm, consuming; see client_impl.hpp.
#include "broker/impl/client_impl.hpp"

#include <fmt/format.h>

#include "broker/impl/amqp_util.hpp"

namespace orderflow::broker {
namespace {

using Clock = std::chrono::steady_clock;

timeval Until(Clock::time_point deadline) {
    return impl::ToTimeval(
        std::max(std::chrono::milliseconds(0),
                 std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())));
}

}  // namespace

std::expected<void, std::string> Client::Impl::Ready() {
    if (connection_.Broken()) return std::unexpected("the connection to the broker is lost");
    amqp_maybe_release_buffers(State());
    if (channel_open_) return {};
    if (auto opened = connection_.OpenChannel(kClientChannel); !opened) return opened;
    channel_open_ = true;
    confirm_ = false;
    consuming_ = false;
    last_tag_ = 0;
    return {};
}

std::string Client::Impl::Rpc(std::string_view what) {
    auto error = connection_.Check(kClientChannel, amqp_get_rpc_reply(State()));
    if (error.empty()) return error;
    channel_open_ = false;
    return fmt::format("{}: {}", what, error);
}

Delivery Client::Impl::ReadDelivery(const amqp_basic_deliver_t& deliver, amqp_message_t& message) {
    Delivery delivery;
    delivery.delivery_tag = deliver.delivery_tag;
    delivery.redelivered = deliver.redelivered != 0;
    delivery.exchange = ExchangeName{impl::ToString(deliver.exchange)};
    delivery.routing_key = RoutingKey{impl::ToString(deliver.routing_key)};
    delivery.queue = consume_queue_;
    delivery.properties = impl::FromAmqpProperties(message.properties);
    delivery.body = impl::ToString(message.body);
    return delivery;
}

std::expected<void, std::string> Client::Impl::Other(const amqp_frame_t& frame) {
    if (frame.frame_type != AMQP_FRAME_METHOD) return {};
    const auto& method = frame.payload.method;
    switch (method.id) {
        case AMQP_BASIC_DELIVER_METHOD:
        case AMQP_BASIC_RETURN_METHOD: {
            // Copy the method's fields first: reading the content reuses frame memory.
            amqp_basic_deliver_t deliver{};
            if (method.id == AMQP_BASIC_DELIVER_METHOD) {
                deliver = *static_cast<const amqp_basic_deliver_t*>(method.decoded);
            }
            const auto exchange = impl::ToString(deliver.exchange);
            const auto routing_key = impl::ToString(deliver.routing_key);
            amqp_message_t message;
            const auto reply = amqp_read_message(State(), frame.channel, &message, 0);
            if (!impl::IsOk(reply)) {
                connection_.MarkBroken();
                return std::unexpected("reading a message: " + impl::ReplyText(reply));
            }
            if (method.id == AMQP_BASIC_DELIVER_METHOD) {
                auto delivery = ReadDelivery(deliver, message);
                delivery.exchange.value = exchange;
                delivery.routing_key.value = routing_key;
                pending_.push_back(std::move(delivery));
            }
            amqp_destroy_message(&message);
            return {};
        }
        case AMQP_CHANNEL_CLOSE_METHOD: {
            const auto* close = static_cast<const amqp_channel_close_t*>(method.decoded);
            auto reason = fmt::format("channel closed by the broker: {} {}", close->reply_code,
                                      impl::ToString(close->reply_text));
            connection_.AnswerChannelClose(frame.channel);
            if (frame.channel == kClientChannel) channel_open_ = false;
            return std::unexpected(std::move(reason));
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
            const auto* close = static_cast<const amqp_connection_close_t*>(method.decoded);
            auto reason = fmt::format("connection closed by the broker: {} {}", close->reply_code,
                                      impl::ToString(close->reply_text));
            connection_.AnswerConnectionClose();
            return std::unexpected(std::move(reason));
        }
        case AMQP_BASIC_CANCEL_METHOD:
            consuming_ = false;
            return std::unexpected("the broker cancelled the subscription (queue deleted?)");
        default:
            return {};
    }
}

PublishStatus Client::Impl::Publish(const OutgoingMessage& message,
                                    std::chrono::milliseconds timeout) {
    if (!Ready()) return PublishStatus::kNotConnected;
    if (!confirm_) {
        amqp_confirm_select(State(), kClientChannel);
        if (!Rpc("confirm.select").empty()) return PublishStatus::kNotConnected;
        confirm_ = true;
    }
    auto properties = message.properties;
    if (properties.content_type.empty()) properties.content_type = "application/json";
    if (properties.delivery_mode == 0) properties.delivery_mode = 2;
    if (!properties.timestamp) {
        properties.timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
    }
    amqp_basic_properties_t amqp_properties;
    impl::ToAmqpProperties(properties, &pool_, amqp_properties);
    const int status =
        amqp_basic_publish(State(), kClientChannel, impl::Bytes(message.exchange.value),
                           impl::Bytes(message.routing_key.value), message.mandatory ? 1 : 0, 0,
                           &amqp_properties, impl::Bytes(message.body));
    recycle_amqp_pool(&pool_);
    if (status != AMQP_STATUS_OK) {
        connection_.MarkBroken();
        return PublishStatus::kNotConnected;
    }
    const uint64_t tag = ++last_tag_;
    bool returned = false;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        amqp_frame_t frame;
        timeval wait = Until(deadline);
        const int read = amqp_simple_wait_frame_noblock(State(), &frame, &wait);
        if (read == AMQP_STATUS_TIMEOUT) return PublishStatus::kNotConnected;  // unknown
        if (read != AMQP_STATUS_OK) {
            connection_.MarkBroken();
            return PublishStatus::kNotConnected;
        }
        const auto id = frame.frame_type == AMQP_FRAME_METHOD ? frame.payload.method.id : 0;
        if (id == AMQP_BASIC_ACK_METHOD || id == AMQP_BASIC_NACK_METHOD) {
            // Same layout for the fields used: delivery_tag, multiple.
            const auto* ack = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
            const bool covers =
                ack->delivery_tag == tag || (ack->multiple && ack->delivery_tag > tag);
            if (frame.channel != kClientChannel || !covers)
                continue;  // an earlier, timed-out publish
            if (returned) return PublishStatus::kUnroutable;
            return id == AMQP_BASIC_ACK_METHOD ? PublishStatus::kConfirmed : PublishStatus::kNacked;
        }
        if (id == AMQP_BASIC_RETURN_METHOD && frame.channel == kClientChannel) {
            // One publish at a time: a return seen now is ours (or of an earlier publish
            // that timed out, whose ack would have come first).
            returned = true;
        }
        if (auto other = Other(frame); !other) return PublishStatus::kNotConnected;
    }
}

std::expected<std::optional<Delivery>, std::string> Client::Impl::Next(
    std::chrono::milliseconds timeout) {
    if (!pending_.empty()) {
        auto delivery = std::move(pending_.front());
        pending_.pop_front();
        return delivery;
    }
    if (connection_.Broken()) return std::unexpected("the connection to the broker is lost");
    if (!consuming_ || !channel_open_) return std::unexpected("not consuming (call Consume)");
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        amqp_maybe_release_buffers(State());
        timeval wait = Until(deadline);
        amqp_envelope_t envelope;
        const auto reply = amqp_consume_message(State(), &envelope, &wait, 0);
        if (impl::IsOk(reply)) {
            Delivery delivery;
            delivery.delivery_tag = envelope.delivery_tag;
            delivery.redelivered = envelope.redelivered != 0;
            delivery.exchange = ExchangeName{impl::ToString(envelope.exchange)};
            delivery.routing_key = RoutingKey{impl::ToString(envelope.routing_key)};
            delivery.queue = consume_queue_;
            delivery.properties = impl::FromAmqpProperties(envelope.message.properties);
            delivery.body = impl::ToString(envelope.message.body);
            amqp_destroy_envelope(&envelope);
            return delivery;
        }
        if (impl::IsTimeout(reply)) return std::optional<Delivery>();
        if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
            amqp_frame_t frame;
            if (const int status = amqp_simple_wait_frame(State(), &frame);
                status != AMQP_STATUS_OK) {
                connection_.MarkBroken();
                return std::unexpected("reading a frame: " + impl::StatusText(status));
            }
            if (auto other = Other(frame); !other) return std::unexpected(other.error());
            if (!pending_.empty()) return Next(timeout);
            continue;
        }
        connection_.MarkBroken();
        return std::unexpected("reading deliveries: " + impl::ReplyText(reply));
    }
}

}  // namespace orderflow::broker
