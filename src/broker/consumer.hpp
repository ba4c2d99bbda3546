// Queue consumer with basic.qos prefetch, manual acks and batched handling.
//
// Threading: one internal thread owns the AMQP connection. It collects deliveries into a
// batch (up to batch_max: what has arrived, or arrives within batch_wait of the batch's
// first delivery), calls the handler on that thread, then settles the batch: a run of acks
// is sent as one multiple-ack. On connection loss it reconnects with backoff and jitter,
// re-declares the topology, and resumes; unacked deliveries of the lost channel are redelivered by
// the broker, which is why handlers must be idempotent.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "broker/connection_options.hpp"
#include "broker/message.hpp"
#include "broker/topology.hpp"

namespace orderflow::broker {

enum class Disposition {
    kAck,      // done (effect committed, or dead-lettered/retried by us with a confirm)
    kRequeue,  // basic.nack requeue=true: could not decide now (e.g. publisher down)
    kReject,   // basic.nack requeue=false: the broker dead-letters it via the queue's DLX
};

using BatchHandler =
    std::function<void(const std::vector<Delivery>& batch, std::vector<Disposition>& out)>;

class Consumer final {
  public:
    struct Options {
        ConnectionOptions connection;
        QueueName queue;
        Topology topology;  // declared on every (re)connect; may be empty
        uint16_t prefetch = 200;
        size_t batch_max = 200;
        // How long the first delivery of a partial batch waits for more (a deadline, not
        // an idle gap). 0: a batch is what has already arrived, the lowest latency.
        std::chrono::milliseconds batch_wait{0};
        std::string consumer_tag;      // empty: broker-generated
        FieldTable consume_arguments;  // e.g. x-stream-offset for streams
        // If set, called on the consumer thread before every (re)subscribe, and its result
        // replaces consume_arguments: a stream reader resumes after the offset it stored.
        std::function<FieldTable()> subscribe_arguments;
        std::function<void(bool connected)> on_connection_change;  // consumer thread
    };

    Consumer(Options options, BatchHandler handler);
    ~Consumer();  // Stop()
    Consumer(const Consumer&) = delete;
    Consumer& operator=(const Consumer&) = delete;

    void Start();
    bool Connected() const;
    // Cancels the subscription, lets the batch in hand finish and be settled, closes.
    // Deliveries received but not yet handled are left unacked (the broker requeues them).
    void Stop();

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace orderflow::broker
