// The publisher's confirm-mode channel; see confirm_channel.hpp.
#include "broker/impl/confirm_channel.hpp"

#include <amqp.h>  // before amqp_framing.h, which needs it first
#include <amqp_framing.h>
#include <fmt/format.h>
#include <poll.h>

#include "broker/impl/amqp_util.hpp"
#include "broker/impl/log.hpp"

namespace orderflow::broker::impl {
namespace {

constexpr amqp_channel_t kChannel = 1;
constexpr int kMaxFramesPerRead = 4096;  // so a steady stream of acks cannot starve sending

}  // namespace

std::expected<std::unique_ptr<ConfirmChannel>, std::string> ConfirmChannel::Open(
    const ConnectionOptions& options, const Topology& topology) {
    auto connection = Connection::Open(options, true);
    if (!connection) return std::unexpected(connection.error());
    std::unique_ptr<ConfirmChannel> channel(new ConfirmChannel(std::move(*connection)));
    auto failed = [&](std::string reason) {
        channel->Close();  // a clean close rather than a dropped socket in the broker's log
        return std::unexpected(std::move(reason));
    };
    if (auto opened = channel->connection_.OpenChannel(kChannel); !opened) {
        return failed(opened.error());
    }
    if (!topology.exchanges.empty() || !topology.queues.empty()) {
        if (auto declared = DeclareOn(channel->connection_, kChannel, topology); !declared) {
            return failed(declared.error());
        }
    }
    if (auto selected = channel->SelectConfirms(); !selected) return failed(selected.error());
    return channel;
}

ConfirmChannel::ConfirmChannel(Connection connection) : connection_(std::move(connection)) {
    init_amqp_pool(&pool_, 4096);
}

ConfirmChannel::~ConfirmChannel() { empty_amqp_pool(&pool_); }

std::expected<void, std::string> ConfirmChannel::SelectConfirms() {
    amqp_confirm_select(connection_.Get(), kChannel);
    if (auto error = connection_.Check(kChannel, amqp_get_rpc_reply(connection_.Get()));
        !error.empty()) {
        return std::unexpected("confirm.select failed: " + error);
    }
    next_tag_ = 1;
    return {};
}

std::expected<void, std::string> ConfirmChannel::Publish(const OutgoingMessage& message,
                                                         PublishCallback& callback) {
    amqp_basic_properties_t properties;
    ToAmqpProperties(message.properties, &pool_, properties);
    const int status =
        amqp_basic_publish(connection_.Get(), kChannel, Bytes(message.exchange.value),
                           Bytes(message.routing_key.value), message.mandatory ? 1 : 0, 0,
                           &properties, Bytes(message.body));
    recycle_amqp_pool(&pool_);
    if (status != AMQP_STATUS_OK) {
        // A frame may be half written: the connection cannot be trusted any more.
        connection_.MarkBroken();
        return std::unexpected("publish failed: " + StatusText(status));
    }
    tracker_.Add(next_tag_++, {std::move(callback), message.properties.message_id,
                               message.exchange.value, message.routing_key.value});
    return {};
}

ConfirmChannel::ReadResult ConfirmChannel::Read(std::vector<Completion>& done) {
    ReadResult result;
    auto* state = connection_.Get();
    for (int frames = 0; frames < kMaxFramesPerRead; ++frames) {
        amqp_frame_t frame;
        timeval immediately{0, 0};
        const int status = amqp_simple_wait_frame_noblock(state, &frame, &immediately);
        if (status == AMQP_STATUS_TIMEOUT) break;
        if (status != AMQP_STATUS_OK) {
            connection_.MarkBroken();
            result.lost = "connection lost: " + StatusText(status);
            return result;
        }
        result.received = true;
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        if (!HandleMethod(frame, done, result)) return result;
    }
    amqp_maybe_release_buffers(state);
    return result;
}

bool ConfirmChannel::HandleMethod(const amqp_frame_t& frame, std::vector<Completion>& done,
                                  ReadResult& result) {
    const auto& method = frame.payload.method;
    switch (method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
            if (frame.channel == kChannel) tracker_.Ack(ack->delivery_tag, ack->multiple, done);
            return true;
        }
        case AMQP_BASIC_NACK_METHOD: {
            const auto* nack = static_cast<const amqp_basic_nack_t*>(method.decoded);
            if (frame.channel == kChannel) tracker_.Nack(nack->delivery_tag, nack->multiple, done);
            return true;
        }
        case AMQP_BASIC_RETURN_METHOD:
            return HandleReturn(frame, result);
        case AMQP_CHANNEL_CLOSE_METHOD: {
            // A channel error (e.g. 404: no such exchange) kills the channel, not the
            // connection: answer, fail what was in flight on it, and open it again.
            const auto* close = static_cast<const amqp_channel_close_t*>(method.decoded);
            LogWarning("publisher", fmt::format("channel closed by the broker: {} {}",
                                                close->reply_code, ToString(close->reply_text)));
            connection_.AnswerChannelClose(frame.channel);
            tracker_.FailAll(PublishStatus::kNotConnected, done);
            if (auto opened = connection_.OpenChannel(kChannel); !opened) {
                result.lost = opened.error();
                return false;
            }
            if (auto selected = SelectConfirms(); !selected) {
                result.lost = selected.error();
                return false;
            }
            return false;  // frames read before the close belonged to the old channel
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
            const auto* close = static_cast<const amqp_connection_close_t*>(method.decoded);
            result.lost = fmt::format("connection closed by the broker: {} {}", close->reply_code,
                                      ToString(close->reply_text));
            connection_.AnswerConnectionClose();
            return false;
        }
        case AMQP_CONNECTION_BLOCKED_METHOD: {
            const auto* blocked = static_cast<const amqp_connection_blocked_t*>(method.decoded);
            LogWarning("publisher", "the broker blocks publishing: " + ToString(blocked->reason));
            result.blocked = true;
            return true;
        }
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            result.blocked = false;
            return true;
        default:
            return true;
    }
}

// basic.return: the content follows at once; it is matched to its in-flight entry, whose
// basic.ack comes afterwards and then reports kUnroutable.
bool ConfirmChannel::HandleReturn(const amqp_frame_t& frame, ReadResult& result) {
    const auto* ret = static_cast<const amqp_basic_return_t*>(frame.payload.method.decoded);
    const auto exchange = ToString(ret->exchange);
    const auto routing_key = ToString(ret->routing_key);
    amqp_message_t message;
    const auto reply = amqp_read_message(connection_.Get(), frame.channel, &message, 0);
    if (!IsOk(reply)) {
        connection_.Check(frame.channel, reply);
        connection_.MarkBroken();
        result.lost = "reading a returned message: " + ReplyText(reply);
        return false;
    }
    const auto message_id = (message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0
                                ? ToString(message.properties.message_id)
                                : std::string();
    amqp_destroy_message(&message);
    if (!tracker_.MarkReturned(message_id, exchange, routing_key)) {
        LogWarning("publisher",
                   fmt::format("basic.return for an unknown message '{}'", message_id));
    }
    return true;
}

void ConfirmChannel::Wait(Wakeup& wakeup, std::chrono::milliseconds timeout) {
    auto* state = connection_.Get();
    if (amqp_frames_enqueued(state) || amqp_data_in_buffer(state)) return;
    pollfd fds[2] = {{connection_.Fd(), POLLIN, 0}, {wakeup.Fd(), POLLIN, 0}};
    ::poll(fds, 2, static_cast<int>(timeout.count()));
    if ((fds[1].revents & POLLIN) != 0) wakeup.Reset();
}

void ConfirmChannel::Close() {
    connection_.CloseChannel(kChannel);
    connection_.Close();
}

}  // namespace orderflow::broker::impl
