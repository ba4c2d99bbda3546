// Queue consumer with prefetch, batches and coalesced acks; see consumer.hpp.
//
// Threading: Start()/Stop() run on the owner's thread and touch only stop_, the thread and
// cv_. The consumer thread owns connection_, consumer_tag_, cancelled_, backoff_ and pool_,
// calls the handler and on_connection_change, and is the only code using the socket.
//
// Heartbeats: rabbitmq-c answers them only from inside its calls, and the handler runs on
// this thread. A handler that blocks for longer than about two heartbeat intervals (60 s at
// the default 30 s) loses the connection, and the broker redelivers its batch.
#include "broker/consumer.hpp"

#include <amqp.h>  // before amqp_framing.h, which needs it first
#include <amqp_framing.h>
#include <pthread.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "broker/impl/amqp_util.hpp"
#include "broker/impl/backoff.hpp"
#include "broker/impl/connection.hpp"
#include "broker/impl/log.hpp"
#include "broker/impl/settlement.hpp"

namespace orderflow::broker {
namespace {

constexpr amqp_channel_t kChannel = 1;
// How long an idle read waits, and so how soon Stop() is noticed.
constexpr std::chrono::milliseconds kIdleWait{100};

}  // namespace

class Consumer::Impl final {
  public:
    Impl(Options options, BatchHandler handler)
        : options_(std::move(options)),
          handler_(std::move(handler)),
          backoff_(options_.connection.reconnect_min, options_.connection.reconnect_max,
                   std::random_device{}()) {
        if (options_.batch_max == 0) options_.batch_max = 1;
        init_amqp_pool(&pool_, 1024);
    }
    ~Impl() {
        Stop();
        empty_amqp_pool(&pool_);
    }

    void Start() {
        std::lock_guard lock(mutex_);
        if (started_ || stop_) return;
        started_ = true;
        thread_ = std::thread([this] {
            ::pthread_setname_np(::pthread_self(), "consumer");
            Run();
        });
    }

    bool Connected() const { return connected_.load(); }

    void Stop() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

  private:
    void Run() {
        while (!stop_) {
            try {
                if (!connection_) {
                    if (!Connect()) Sleep(backoff_.Next());
                    continue;
                }
                std::vector<Delivery> batch;
                if (!CollectBatch(batch)) continue;  // connection lost: the broker redelivers
                // Stop: end the subscription first, then finish the batch in hand.
                if (stop_ && !cancelled_) Cancel();
                if (!batch.empty() && connection_) HandleAndSettle(batch);
            } catch (const std::exception& error) {
                Disconnect(fmt::format("internal error: {}", error.what()));
                Sleep(backoff_.Next());
            }
        }
        if (connection_) {
            if (!cancelled_) Cancel();
            // Closing the channel returns prefetched, unhandled deliveries to the queue.
            if (connection_) {
                connection_->CloseChannel(kChannel);
                connection_->Close();
                connection_.reset();
            }
        }
        SetConnected(false);
    }

    bool Connect() {
        auto opened_connection = impl::Connection::Open(options_.connection);
        if (!opened_connection) return Fail(opened_connection.error());
        auto* connection = &*opened_connection;
        auto* state = connection->Get();
        const auto Fail = [&](const std::string& reason) {
            connection->Close();  // a clean close, rather than a dropped socket in broker logs
            return this->Fail(reason);
        };
        if (auto opened = connection->OpenChannel(kChannel); !opened) return Fail(opened.error());
        if (!options_.topology.exchanges.empty() || !options_.topology.queues.empty()) {
            auto declared = impl::DeclareOn(*connection, kChannel, options_.topology);
            if (!declared) return Fail(declared.error());
        }
        amqp_basic_qos(state, kChannel, 0, options_.prefetch, 0);
        if (auto error = connection->Check(kChannel, amqp_get_rpc_reply(state)); !error.empty()) {
            return Fail("basic.qos failed: " + error);
        }
        const FieldTable arguments = options_.subscribe_arguments ? options_.subscribe_arguments()
                                                                  : options_.consume_arguments;
        const auto* ok = amqp_basic_consume(state, kChannel, impl::Bytes(options_.queue.value),
                                            impl::Bytes(options_.consumer_tag), 0, 0, 0,
                                            impl::ToAmqpTable(arguments, &pool_));
        recycle_amqp_pool(&pool_);
        if (auto error = connection->Check(kChannel, amqp_get_rpc_reply(state)); !error.empty()) {
            return Fail(
                fmt::format("cannot consume from queue '{}': {}", options_.queue.value, error));
        }
        consumer_tag_ = impl::ToString(ok->consumer_tag);  // the broker's if ours was empty
        connection_ = std::move(*opened_connection);
        cancelled_ = false;
        backoff_.Reset();
        SetConnected(true);
        return true;
    }

    bool Fail(const std::string& reason) {
        impl::LogWarning("consumer", fmt::format("{}: {}", options_.queue.value, reason));
        return false;
    }

    // Fills `batch` until batch_max, until batch_wait has passed since its first delivery
    // and nothing more is already there, or until Stop(). False if the connection was lost
    // (the partial batch is dropped). The wait is a deadline, not a gap between deliveries:
    // a steady trickle (one every few ms) must not hold the first one until the batch is
    // full. With batch_wait 0 a batch is what has already arrived; batches still grow under
    // load, since deliveries pile up in the socket while the previous batch is handled.
    bool CollectBatch(std::vector<Delivery>& batch) {
        auto* state = connection_->Get();
        std::chrono::steady_clock::time_point deadline;
        while (batch.size() < options_.batch_max && !stop_) {
            amqp_maybe_release_buffers(state);
            const auto wait = batch.empty() ? kIdleWait
                                            : std::chrono::ceil<std::chrono::milliseconds>(
                                                  deadline - std::chrono::steady_clock::now());
            timeval timeout = impl::ToTimeval(wait);  // negative: zero, take what is there
            amqp_envelope_t envelope;
            const auto reply = amqp_consume_message(state, &envelope, &timeout, 0);
            if (impl::IsOk(reply)) {
                if (batch.empty())
                    deadline = std::chrono::steady_clock::now() + options_.batch_wait;
                batch.push_back(ToDelivery(envelope));
                amqp_destroy_envelope(&envelope);
                continue;
            }
            if (impl::IsTimeout(reply)) {
                if (batch.empty()) continue;
                break;
            }
            if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
                reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
                if (!HandleFrame()) return false;
                continue;
            }
            Disconnect("reading deliveries: " + impl::ReplyText(reply));
            return false;
        }
        return true;
    }

    Delivery ToDelivery(const amqp_envelope_t& envelope) const {
        Delivery delivery;
        delivery.delivery_tag = envelope.delivery_tag;
        delivery.redelivered = envelope.redelivered != 0;
        delivery.exchange = ExchangeName{impl::ToString(envelope.exchange)};
        delivery.routing_key = RoutingKey{impl::ToString(envelope.routing_key)};
        delivery.queue = options_.queue;
        delivery.properties = impl::FromAmqpProperties(envelope.message.properties);
        delivery.body = impl::ToString(envelope.message.body);
        return delivery;
    }

    // A frame other than basic.deliver (amqp_consume_message put it back). False if the
    // connection is gone.
    bool HandleFrame() {
        amqp_frame_t frame;
        if (const int status = amqp_simple_wait_frame(connection_->Get(), &frame);
            status != AMQP_STATUS_OK) {
            Disconnect("reading a frame: " + impl::StatusText(status));
            return false;
        }
        if (frame.frame_type != AMQP_FRAME_METHOD) return true;
        const auto& method = frame.payload.method;
        switch (method.id) {
            case AMQP_BASIC_RETURN_METHOD: {  // never expected here; its content must be read
                amqp_message_t message;
                const auto reply =
                    amqp_read_message(connection_->Get(), frame.channel, &message, 0);
                if (!impl::IsOk(reply)) {
                    Disconnect("reading a returned message: " + impl::ReplyText(reply));
                    return false;
                }
                amqp_destroy_message(&message);
                return true;
            }
            case AMQP_CHANNEL_CLOSE_METHOD: {
                const auto* close = static_cast<const amqp_channel_close_t*>(method.decoded);
                const auto reason =
                    fmt::format("channel closed by the broker: {} {}", close->reply_code,
                                impl::ToString(close->reply_text));
                connection_->AnswerChannelClose(frame.channel);
                Disconnect(reason);
                return false;
            }
            case AMQP_CONNECTION_CLOSE_METHOD: {
                const auto* close = static_cast<const amqp_connection_close_t*>(method.decoded);
                const auto reason =
                    fmt::format("connection closed by the broker: {} {}", close->reply_code,
                                impl::ToString(close->reply_text));
                connection_->AnswerConnectionClose();
                Disconnect(reason);
                return false;
            }
            case AMQP_BASIC_CANCEL_METHOD:
                // consumer_cancel_notify: the queue was deleted (or its leader moved away).
                // Resubscribing on a new connection re-declares it from the topology.
                Disconnect("subscription cancelled by the broker");
                return false;
            default:
                return true;
        }
    }

    void HandleAndSettle(const std::vector<Delivery>& batch) {
        std::vector<Disposition> dispositions;
        try {
            handler_(batch, dispositions);
        } catch (const std::exception& error) {
            Fail(fmt::format("handler threw ({}); requeueing {} deliveries", error.what(),
                             batch.size()));
            dispositions.assign(batch.size(), Disposition::kRequeue);
        } catch (...) {
            Fail(fmt::format("handler threw; requeueing {} deliveries", batch.size()));
            dispositions.assign(batch.size(), Disposition::kRequeue);
        }
        if (dispositions.size() != batch.size()) {
            Fail(
                fmt::format("handler returned {} dispositions for {} deliveries; the missing "
                            "ones are requeued",
                            dispositions.size(), batch.size()));
            dispositions.resize(batch.size(), Disposition::kRequeue);
        }
        std::vector<uint64_t> tags;
        tags.reserve(batch.size());
        for (const auto& delivery : batch) tags.push_back(delivery.delivery_tag);
        // Deliveries arrive in tag order and batches are handled in order, so the batch holds
        // every unsettled delivery up to its last tag, as PlanSettlement needs; with a prefetch
        // above batch_max, later deliveries wait in the socket while this batch is handled.
        for (const auto& op : impl::PlanSettlement(tags, dispositions)) {
            auto* state = connection_->Get();
            const int status = op.disposition == Disposition::kAck
                                   ? amqp_basic_ack(state, kChannel, op.delivery_tag, op.multiple)
                                   : amqp_basic_nack(state, kChannel, op.delivery_tag, op.multiple,
                                                     op.disposition == Disposition::kRequeue);
            if (status != AMQP_STATUS_OK) {
                Disconnect("settling deliveries: " + impl::StatusText(status));
                return;
            }
        }
    }

    void Cancel() {
        cancelled_ = true;
        auto* state = connection_->Get();
        amqp_basic_cancel(state, kChannel, impl::Bytes(consumer_tag_));
        if (auto error = connection_->Check(kChannel, amqp_get_rpc_reply(state)); !error.empty()) {
            Disconnect("basic.cancel failed: " + error);
        }
    }

    void Disconnect(const std::string& reason) {
        Fail(reason);
        if (connection_) {
            connection_->Close();
            connection_.reset();
        }
        SetConnected(false);
    }

    void SetConnected(bool connected) {
        if (connected_.exchange(connected) == connected) return;
        if (options_.on_connection_change) {
            try {
                options_.on_connection_change(connected);
            } catch (...) {
                Fail("on_connection_change threw");
            }
        }
    }

    void Sleep(std::chrono::milliseconds duration) {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, duration, [this] { return stop_.load(); });
    }

    Options options_;
    BatchHandler handler_;

    std::mutex mutex_;  // with cv_: wakes the backoff sleep on Stop()
    std::condition_variable cv_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> connected_{false};
    bool started_ = false;
    std::thread thread_;

    // Consumer thread only.
    std::optional<impl::Connection> connection_;
    std::string consumer_tag_;
    bool cancelled_ = false;
    impl::Backoff backoff_;
    amqp_pool_t pool_;
};

Consumer::Consumer(Options options, BatchHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}
Consumer::~Consumer() = default;
void Consumer::Start() { impl_->Start(); }
bool Consumer::Connected() const { return impl_->Connected(); }
void Consumer::Stop() { impl_->Stop(); }

}  // namespace orderflow::broker
