// Wires a consuming service: a Publisher (declares the topology, publishes the outbox,
// dead letters and retries), a Consumer on the service's queue, the MessagePipeline and
// the OutboxRelay; registers readiness and the shutdown order with the Runtime.
//
// Threading: the consumer thread owns `session_` (through the pipeline); the relay thread
// has its own session; the readiness probe and the outbox-depth gauge share a third (under
// a mutex); the publisher thread owns the AMQP publishing connection.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "broker/consumer.hpp"
#include "broker/publisher.hpp"
#include "service/fault.hpp"
#include "service/outbox_relay.hpp"
#include "service/pipeline.hpp"
#include "service/runtime.hpp"
#include "store/store.hpp"

namespace orderflow::service {

class Worker final {
  public:
    // Connects to the service's store, creates (not starts) all parts.
    Worker(Runtime& runtime, store::Store& store, broker::QueueName queue,
           std::unique_ptr<MessageHandler> handler);
    ~Worker();

    broker::Publisher& Publisher() { return *publisher_; }
    FaultInjector& Faults() { return *faults_; }
    // Starts publisher, relay and consumer; registers readiness and shutdown.
    void Start();

  private:
    // Rows in the outbox (all replicas'), counted through the probe's session; nullopt
    // while the database does not answer.
    std::optional<int64_t> OutboxDepth();

    Runtime& runtime_;
    std::unique_ptr<store::Session> session_;
    std::unique_ptr<store::Session> probe_;
    std::mutex probe_mutex_;
    std::unique_ptr<FaultInjector> faults_;
    std::unique_ptr<MessageHandler> handler_;
    std::unique_ptr<broker::Publisher> publisher_;
    std::unique_ptr<OutboxRelay> relay_;
    std::unique_ptr<MessagePipeline> pipeline_;
    std::unique_ptr<broker::Consumer> consumer_;
};

// The retry policy of the configuration (ORDERFLOW_MAX_ATTEMPTS, _RETRY_DELAYS_MS).
RetryPolicy PolicyOf(const Config& config);

// For /readyz while not ready: what the broker refused of the topology (it names the queue or
// exchange), else which connection is down; empty when both are connected. Never a secret.
std::string BrokerProblem(const broker::Publisher& publisher, const broker::Consumer& consumer);

}  // namespace orderflow::service
