// The publisher's confirm-mode channel; see confirm_channel.hpp.
#include "broker/impl/confirm_channel.hpp"

#include <amqp.h>  // before amqp_framing.h, which needs it first
#include <amqp_framing.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "broker/impl/amqp_util.hpp"
#include "broker/impl/log.hpp"

namespace orderflow::broker::impl {
namespace {

constexpr amqp_channel_t kChannel = 1;
constexpr int kMaxFramesPerRead = 4096;  // so a steady stream of acks cannot starve sending

// Frame header (type, channel, payload size) and frame-end octet: AMQP 0-9-1, 4.2.3.
constexpr size_t kFrameOverhead = 8;
constexpr unsigned char kFrameEnd = 0xCE;

void PutBigEndian(unsigned char* at, uint64_t value, int octets) {
    for (int i = octets - 1; i >= 0; --i, value >>= 8) at[i] = static_cast<unsigned char>(value);
}

void AppendFrame(std::string& out, uint8_t type, amqp_channel_t channel, const void* payload,
                 size_t size) {
    unsigned char head[7];
    head[0] = type;
    PutBigEndian(head + 1, channel, 2);
    PutBigEndian(head + 3, size, 4);
    out.append(reinterpret_cast<const char*>(head), sizeof head);
    out.append(static_cast<const char*>(payload), size);
    out.push_back(static_cast<char>(kFrameEnd));
}

// TCP_CORK on or off. Corked, the kernel holds what OpenSSL writes for each message and
// sends it in full segments when uncorked, so the network path, and on loopback the
// broker's reads, run once a batch instead of once a message. Best effort: a socket that
// refuses it just sends as before.
void Cork(int fd, bool on) {
    const int value = on ? 1 : 0;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &value, sizeof value);
}

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

void ConfirmChannel::BeginBatch(size_t count) {
    if (!connection_.Tls() || count < 2 || connection_.Fd() < 0) return;
    Cork(connection_.Fd(), true);
    corked_ = true;
}

std::expected<void, std::string> ConfirmChannel::Publish(const OutgoingMessage& message,
                                                         PublishCallback& callback) {
    amqp_basic_properties_t properties;
    ToAmqpProperties(message.properties, &pool_, properties);
    if (connection_.Tls()) {
        // Through OpenSSL: rabbitmq-c writes the frames (three writes a message).
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
    } else {
        // The frames amqp_basic_publish would write (method, content header, body split at
        // frame_max), encoded by rabbitmq-c's own encoders into out_: Flush() writes a
        // whole batch with one send() where rabbitmq-c makes three a message.
        const auto encoded = Encode(message, properties);
        recycle_amqp_pool(&pool_);
        if (!encoded) {
            connection_.MarkBroken();
            return std::unexpected(encoded.error());
        }
    }
    tracker_.Add(next_tag_++, {std::move(callback), message.properties.message_id,
                               message.exchange.value, message.routing_key.value});
    return {};
}

std::expected<void, std::string> ConfirmChannel::Encode(const OutgoingMessage& message,
                                                        amqp_basic_properties_t& properties) {
    const size_t frame_max = static_cast<size_t>(amqp_get_frame_max(connection_.Get()));
    if (frame_max <= kFrameOverhead + 12) {
        return std::unexpected("publish failed: frame_max too small");
    }
    scratch_.resize(frame_max - kFrameOverhead);
    const size_t start = out_.size();
    const auto failed = [&](std::string_view what, int status) {
        out_.resize(start);
        return std::unexpected(
            fmt::format("publish failed: cannot encode the {}: {}", what, StatusText(status)));
    };
    // basic.publish: method id, then its arguments.
    amqp_basic_publish_t method{};
    method.exchange = Bytes(message.exchange.value);
    method.routing_key = Bytes(message.routing_key.value);
    method.mandatory = message.mandatory ? 1 : 0;
    PutBigEndian(scratch_.data(), AMQP_BASIC_PUBLISH_METHOD, 4);
    int size = amqp_encode_method(AMQP_BASIC_PUBLISH_METHOD, &method,
                                  amqp_bytes_t{scratch_.size() - 4, scratch_.data() + 4});
    if (size < 0) return failed("basic.publish method", size);
    AppendFrame(out_, AMQP_FRAME_METHOD, kChannel, scratch_.data(), 4 + static_cast<size_t>(size));
    // Content header: class, weight 0, body size, then the properties.
    PutBigEndian(scratch_.data(), AMQP_BASIC_CLASS, 2);
    PutBigEndian(scratch_.data() + 2, 0, 2);
    PutBigEndian(scratch_.data() + 4, message.body.size(), 8);
    size = amqp_encode_properties(AMQP_BASIC_CLASS, &properties,
                                  amqp_bytes_t{scratch_.size() - 12, scratch_.data() + 12});
    if (size < 0) return failed("properties", size);
    AppendFrame(out_, AMQP_FRAME_HEADER, kChannel, scratch_.data(), 12 + static_cast<size_t>(size));
    // Body frames of at most frame_max - 8 octets.
    const size_t max_body = frame_max - kFrameOverhead;
    for (size_t offset = 0; offset < message.body.size(); offset += max_body) {
        AppendFrame(out_, AMQP_FRAME_BODY, kChannel, message.body.data() + offset,
                    std::min(max_body, message.body.size() - offset));
    }
    return {};
}

std::expected<void, std::string> ConfirmChannel::Flush() {
    const int fd = connection_.Fd();
    if (corked_) {
        Cork(fd, false);  // sends what OpenSSL wrote for the batch
        corked_ = false;
    }
    size_t written = 0;
    while (written < out_.size()) {
        const ssize_t n = ::send(fd, out_.data() + written, out_.size() - written, MSG_NOSIGNAL);
        if (n >= 0) {
            written += static_cast<size_t>(n);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            // rabbitmq-c's socket is non-blocking: wait until it takes more. Stop() cuts a
            // wait on a broker that stopped reading with shutdown(), which ends this poll.
            pollfd writable{fd, POLLOUT, 0};
            if (::poll(&writable, 1, -1) >= 0 || errno == EINTR) continue;
        }
        const int error = errno;
        out_.clear();
        connection_.MarkBroken();  // a frame may be half written
        return std::unexpected(fmt::format("publish failed: {}", std::strerror(error)));
    }
    out_.clear();
    return {};
}

ConfirmChannel::ReadResult ConfirmChannel::Read(std::vector<Completion>& done) {
    ReadResult result;
    if (!out_.empty()) {  // frames before anything rabbitmq-c may send (a heartbeat)
        if (auto flushed = Flush(); !flushed) {
            result.lost = flushed.error();
            return result;
        }
    }
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
