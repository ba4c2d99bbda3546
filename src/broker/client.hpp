// Synchronous, single-threaded AMQP client for tools and tests (orderflowctl, DLQ
// replay, integration tests): the calling thread owns the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>

#include "broker/connection_options.hpp"
#include "broker/message.hpp"
#include "broker/publisher.hpp"

namespace orderflow::broker {

struct QueueInfo {
    uint32_t messages = 0;  // ready
    uint32_t consumers = 0;
};

class Client final {
  public:
    static std::expected<Client, std::string> Connect(const ConnectionOptions& options);
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    ~Client();

    // Publishes with confirm and waits for it (or the timeout).
    PublishStatus Publish(const OutgoingMessage& message,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // basic.get without auto-ack; settle with Ack/Nack.
    std::expected<std::optional<Delivery>, std::string> Get(const QueueName& queue);
    std::expected<void, std::string> Ack(uint64_t delivery_tag, bool multiple = false);
    std::expected<void, std::string> Nack(uint64_t delivery_tag, bool requeue,
                                          bool multiple = false);
    // Passive declare: nullopt if the queue does not exist.
    std::expected<std::optional<QueueInfo>, std::string> Inspect(const QueueName& queue);
    std::expected<uint32_t, std::string> Purge(const QueueName& queue);
    std::expected<void, std::string> DeleteQueue(const QueueName& queue);
    std::expected<void, std::string> DeclareQueue(const QueueName& queue, const FieldTable& args,
                                                  bool durable = true, bool auto_delete = false);
    std::expected<void, std::string> Bind(const QueueName& queue, const ExchangeName& exchange,
                                          const RoutingKey& key);

    // basic.consume + waiting for one delivery at a time (tests, stream reads).
    std::expected<void, std::string> Consume(const QueueName& queue, uint16_t prefetch,
                                             const FieldTable& arguments = {});
    std::expected<std::optional<Delivery>, std::string> Next(std::chrono::milliseconds timeout);

  private:
    class Impl;
    explicit Client(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace orderflow::broker
