// The AMQP adapter of a consuming service: turns a batch of deliveries into exactly-once
// effects. In one store transaction (a UnitOfWork) it claims the batch's message ids in the
// processed-message-id table (the inbox), applies each message's effect (in its own
// savepoint), gives back the claims of messages that had none, and stores the emitted
// events in the outbox; poison goes to Q.dlq at once, transient failures to a delay queue
// (our x-attempts header counts them); only then is anything acked. While the database is
// away (StoreError kUnavailable) the batch is held, unacked, and tried again.
//
// Threading: HandleBatch runs on the consumer's thread, which owns `session` while it runs.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "broker/consumer.hpp"
#include "broker/publisher.hpp"
#include "events/codec.hpp"
#include "events/events.hpp"
#include "events/ids.hpp"
#include "service/fault.hpp"
#include "service/retry.hpp"
#include "store/store.hpp"
#include "telemetry/metrics.hpp"

namespace orderflow::service {

// An event a handler emits; the pipeline writes it to the outbox. Made only by Of(), which
// validates the body against the event type's schema as it encodes it (SPEC section 4: on
// publish), so a handler bug cannot put a malformed event on the bus.
class Emitted final {
  public:
    // Throws std::runtime_error if the event fails its schema (the pipeline retries it as a
    // handler error, then dead-letters it).
    template <class Event>
    static Emitted Of(const Event& event) {
        auto body = events::EncodeChecked(event);
        if (!body)
            throw std::runtime_error("emitted event fails its schema: " + body.error().message);
        return Emitted(event.envelope.type, event.envelope.event_id, event.envelope.order_id,
                       std::move(*body));
    }

    events::EventType type() const { return type_; }
    const std::string& event_id() const { return event_id_; }
    const std::string& order_id() const { return order_id_; }
    const std::string& body() const { return body_; }  // encoded JSON

  private:
    Emitted(events::EventType type, std::string event_id, std::string order_id, std::string body)
        : type_(type),
          event_id_(std::move(event_id)),
          order_id_(std::move(order_id)),
          body_(std::move(body)) {}

    events::EventType type_;
    std::string event_id_;
    std::string order_id_;
    std::string body_;
};

struct HandlerOutcome {
    enum class Kind { kDone, kPoison, kTransient };
    Kind kind = Kind::kDone;
    std::string label;  // "reserved", "rejected", "confirmed", ... for logs and metrics
    std::string order_id;
    std::string error;  // for kPoison / kTransient
    std::string note;   // the line a person reads, logged as the message (optional)

    static HandlerOutcome Done(std::string label, std::string order_id) {
        return {Kind::kDone, std::move(label), std::move(order_id), {}, {}};
    }
    static HandlerOutcome Poison(std::string error) {
        return {Kind::kPoison, {}, {}, std::move(error), {}};
    }
};

// Business logic of one consuming service. Runs inside a savepoint of the batch
// transaction; may throw on store errors (treated as transient).
class MessageHandler {
  public:
    virtual ~MessageHandler() = default;
    // Before the batch's messages are handled, inside its transaction: e.g. lock the stock
    // rows the whole batch needs in one statement.
    virtual void Prepare(std::span<const broker::Delivery* const> /*batch*/,
                         store::UnitOfWork& /*unit*/) {}
    virtual HandlerOutcome Handle(const broker::Delivery& delivery, store::UnitOfWork& unit,
                                  std::vector<Emitted>& emit) = 0;
};

// Where the pipeline meets the outbox relay (each may be empty).
struct OutboxHooks {
    std::function<void()> ready;  // a batch committed outbox rows
    // Ids of outbox rows the broker confirmed: the batch's transaction deletes them.
    std::function<std::vector<int64_t>()> take_confirmed;
    // The batch did not commit: those ids go back, for the relay to delete.
    std::function<void(std::vector<int64_t>)> give_back;
};

class MessagePipeline final {
  public:
    struct Options {
        std::string service;  // "inventory"
        broker::QueueName queue;
        RetryPolicy retry;
        events::Clock clock = events::SystemClock();
        uint64_t seed = std::random_device{}();
        std::chrono::hours inbox_retention{24 * 7};
        // Crash isolation (see DeferLastCrash): the file naming the message being handled
        // while a batch holds messages given back by a consumer that stopped; empty: off.
        std::filesystem::path breadcrumb;
    };

    MessagePipeline(Options options, store::Session& session, MessageHandler& handler,
                    broker::Publisher& publisher, FaultInjector& faults,
                    telemetry::Registry& metrics, OutboxHooks outbox);

    void HandleBatch(const std::vector<broker::Delivery>& batch,
                     std::vector<broker::Disposition>& out);

    // Deletes processed ids older than `retention` (call now and then, e.g. hourly).
    int PruneInbox(std::chrono::hours retention);

    // Shutdown: a batch held while the database is away is given back (requeued) instead.
    void Abandon() { abandon_ = true; }

  private:
    struct Action;
    struct ConfirmedRows;
    void Screen(const broker::Delivery& delivery, Action& action);
    bool DeferLastCrash(const std::vector<broker::Delivery>& batch, std::vector<Action>& actions);
    void LeaveBreadcrumb(const std::string& message_id);
    void RunBatch(const std::vector<broker::Delivery>& batch, std::vector<Action>& actions,
                  store::UnitOfWork& unit);
    void HandleOne(const broker::Delivery& delivery, Action& action, store::UnitOfWork& unit);
    void WriteOutbox(const broker::Delivery& delivery, const std::vector<Emitted>& emitted,
                     store::UnitOfWork& unit);
    void Settle(const std::vector<broker::Delivery>& batch, std::vector<Action>& actions,
                std::vector<broker::Disposition>& out);
    void Report(const broker::Delivery& delivery, const Action& action);
    void MaybePrune();

    Options options_;
    store::Session& session_;
    MessageHandler& handler_;
    broker::Publisher& publisher_;
    FaultInjector& faults_;
    telemetry::Registry& metrics_;
    OutboxHooks outbox_;
    std::mt19937_64 rng_;
    std::string consumer_id_;
    std::optional<std::chrono::steady_clock::time_point> last_prune_;
    std::atomic<bool> abandon_{false};
    // Metric series of Report, looked up once (consumer thread only).
    std::map<std::string_view, telemetry::Counter*> consumed_;
    telemetry::Counter* acked_ = nullptr;
    telemetry::Histogram* handling_ = nullptr;
    bool isolating_ = false;     // this batch holds returned messages: breadcrumbs are left
    bool wrote_outbox_ = false;  // this batch's transaction added outbox rows
};

}  // namespace orderflow::service
