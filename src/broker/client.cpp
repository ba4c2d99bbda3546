// Synchronous AMQP client for tools and tests; see client.hpp and impl/client_impl.hpp.
#include "broker/client.hpp"

#include <fmt/format.h>

#include "broker/impl/amqp_util.hpp"
#include "broker/impl/client_impl.hpp"

namespace orderflow::broker {

std::expected<Client, std::string> Client::Connect(const ConnectionOptions& options) {
    auto connection = impl::Connection::Open(options);
    if (!connection) return std::unexpected(connection.error());
    auto impl = std::make_unique<Impl>(std::move(*connection));
    if (auto ready = impl->Ready(); !ready) return std::unexpected(ready.error());
    return Client(std::move(impl));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

PublishStatus Client::Publish(const OutgoingMessage& message, std::chrono::milliseconds timeout) {
    return impl_->Publish(message, timeout);
}

std::expected<std::optional<Delivery>, std::string> Client::Get(const QueueName& queue) {
    if (auto ready = impl_->Ready(); !ready) return std::unexpected(ready.error());
    auto* state = impl_->State();
    const auto reply = amqp_basic_get(state, kClientChannel, impl::Bytes(queue.value), 0);
    if (!impl::IsOk(reply)) {
        auto error = impl_->connection_.Check(kClientChannel, reply);
        impl_->channel_open_ = impl_->channel_open_ && !impl::IsChannelClose(reply);
        return std::unexpected(fmt::format("basic.get from '{}': {}", queue.value, error));
    }
    if (reply.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return std::optional<Delivery>();
    const auto ok = *static_cast<const amqp_basic_get_ok_t*>(reply.reply.decoded);
    Delivery delivery;
    delivery.delivery_tag = ok.delivery_tag;
    delivery.redelivered = ok.redelivered != 0;
    delivery.exchange = ExchangeName{impl::ToString(ok.exchange)};
    delivery.routing_key = RoutingKey{impl::ToString(ok.routing_key)};
    delivery.queue = queue;
    amqp_message_t message;
    const auto read = amqp_read_message(state, kClientChannel, &message, 0);
    if (!impl::IsOk(read)) {
        impl_->connection_.MarkBroken();
        return std::unexpected("reading a message: " + impl::ReplyText(read));
    }
    delivery.properties = impl::FromAmqpProperties(message.properties);
    delivery.body = impl::ToString(message.body);
    amqp_destroy_message(&message);
    return delivery;
}

std::expected<void, std::string> Client::Ack(uint64_t delivery_tag, bool multiple) {
    if (impl_->connection_.Broken() || !impl_->channel_open_) {
        return std::unexpected("the channel of that delivery is closed; it will be redelivered");
    }
    if (const int status = amqp_basic_ack(impl_->State(), kClientChannel, delivery_tag, multiple);
        status != AMQP_STATUS_OK) {
        impl_->connection_.MarkBroken();
        return std::unexpected("basic.ack: " + impl::StatusText(status));
    }
    return {};
}

std::expected<void, std::string> Client::Nack(uint64_t delivery_tag, bool requeue, bool multiple) {
    if (impl_->connection_.Broken() || !impl_->channel_open_) {
        return std::unexpected("the channel of that delivery is closed; it will be redelivered");
    }
    if (const int status =
            amqp_basic_nack(impl_->State(), kClientChannel, delivery_tag, multiple, requeue);
        status != AMQP_STATUS_OK) {
        impl_->connection_.MarkBroken();
        return std::unexpected("basic.nack: " + impl::StatusText(status));
    }
    return {};
}

std::expected<std::optional<QueueInfo>, std::string> Client::Inspect(const QueueName& queue) {
    auto& connection = impl_->connection_;
    if (connection.Broken()) return std::unexpected("the connection to the broker is lost");
    if (auto opened = connection.OpenChannel(kClientProbeChannel); !opened)
        return std::unexpected(opened.error());
    auto* state = impl_->State();
    const auto* ok = amqp_queue_declare(state, kClientProbeChannel, impl::Bytes(queue.value), 1, 0,
                                        0, 0, amqp_empty_table);
    const auto reply = amqp_get_rpc_reply(state);
    const auto code = impl::ReplyCode(reply);
    if (auto error = connection.Check(kClientProbeChannel, reply); !error.empty()) {
        if (code == 404)
            return std::optional<QueueInfo>();  // the broker closed kClientProbeChannel
        return std::unexpected(fmt::format("inspecting queue '{}': {}", queue.value, error));
    }
    const QueueInfo info{ok->message_count, ok->consumer_count};
    connection.CloseChannel(kClientProbeChannel);
    return info;
}

std::expected<uint32_t, std::string> Client::Purge(const QueueName& queue) {
    if (auto ready = impl_->Ready(); !ready) return std::unexpected(ready.error());
    const auto* ok = amqp_queue_purge(impl_->State(), kClientChannel, impl::Bytes(queue.value));
    if (auto error = impl_->Rpc("purging queue '" + queue.value + "'"); !error.empty()) {
        return std::unexpected(error);
    }
    return ok->message_count;
}

std::expected<void, std::string> Client::DeleteQueue(const QueueName& queue) {
    if (auto ready = impl_->Ready(); !ready) return std::unexpected(ready.error());
    amqp_queue_delete(impl_->State(), kClientChannel, impl::Bytes(queue.value), 0, 0);
    if (auto error = impl_->Rpc("deleting queue '" + queue.value + "'"); !error.empty()) {
        return std::unexpected(error);
    }
    return {};
}

std::expected<void, std::string> Client::DeclareQueue(const QueueName& queue,
                                                      const FieldTable& args, bool durable,
                                                      bool auto_delete) {
    if (auto ready = impl_->Ready(); !ready) return std::unexpected(ready.error());
    amqp_queue_declare(impl_->State(), kClientChannel, impl::Bytes(queue.value), 0, durable, 0,
                       auto_delete, impl::ToAmqpTable(args, &impl_->pool_));
    recycle_amqp_pool(&impl_->pool_);
    if (auto error = impl_->Rpc("declaring queue '" + queue.value + "'"); !error.empty()) {
        return std::unexpected(error);
    }
    return {};
}

std::expected<void, std::string> Client::Bind(const QueueName& queue, const ExchangeName& exchange,
                                              const RoutingKey& key) {
    if (auto ready = impl_->Ready(); !ready) return std::unexpected(ready.error());
    amqp_queue_bind(impl_->State(), kClientChannel, impl::Bytes(queue.value),
                    impl::Bytes(exchange.value), impl::Bytes(key.value), amqp_empty_table);
    if (auto error = impl_->Rpc(fmt::format("binding queue '{}' to '{}' with '{}'", queue.value,
                                            exchange.value, key.value));
        !error.empty()) {
        return std::unexpected(error);
    }
    return {};
}

std::expected<void, std::string> Client::Consume(const QueueName& queue, uint16_t prefetch,
                                                 const FieldTable& arguments) {
    if (auto ready = impl_->Ready(); !ready) return std::unexpected(ready.error());
    auto* state = impl_->State();
    amqp_basic_qos(state, kClientChannel, 0, prefetch, 0);
    if (auto error = impl_->Rpc("basic.qos"); !error.empty()) return std::unexpected(error);
    amqp_basic_consume(state, kClientChannel, impl::Bytes(queue.value), amqp_empty_bytes, 0, 0, 0,
                       impl::ToAmqpTable(arguments, &impl_->pool_));
    recycle_amqp_pool(&impl_->pool_);
    if (auto error = impl_->Rpc("consuming from '" + queue.value + "'"); !error.empty()) {
        return std::unexpected(error);
    }
    impl_->consuming_ = true;
    impl_->consume_queue_ = queue;
    return {};
}

std::expected<std::optional<Delivery>, std::string> Client::Next(
    std::chrono::milliseconds timeout) {
    return impl_->Next(timeout);
}

}  // namespace orderflow::broker
