// Batch handling with inbox/outbox discipline; see pipeline.hpp.
#include "service/pipeline.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "broker/topology.hpp"
#include "events/codec.hpp"
#include "telemetry/log.hpp"

namespace orderflow::service {

struct MessagePipeline::Action {
    enum class Kind { kProcessed, kDuplicate, kDeadLetter, kRetry, kRequeue };
    Kind kind = Kind::kProcessed;
    FailureKind failure = FailureKind::kPoison;
    std::string error;
    std::string label;
    std::string order_id;
    std::string note;
    int attempt = 1;
    RetryDecision retry;
    std::chrono::steady_clock::time_point start;
};

// The ids a batch took from the relay: given back unless its transaction deleted them.
struct MessagePipeline::ConfirmedRows {
    explicit ConfirmedRows(const OutboxHooks& hooks) : hooks(hooks) {
        if (hooks.take_confirmed) ids = hooks.take_confirmed();
    }
    ~ConfirmedRows() {
        if (!ids.empty() && hooks.give_back) hooks.give_back(std::move(ids));
    }
    ConfirmedRows(const ConfirmedRows&) = delete;
    ConfirmedRows& operator=(const ConfirmedRows&) = delete;
    void Deleted() { ids.clear(); }

    const OutboxHooks& hooks;
    std::vector<int64_t> ids;
};

namespace {

std::string HostName() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return host;
}

std::string TraceId(const broker::Delivery& delivery) {
    const auto* header = delivery.properties.Header("traceparent");
    if (header == nullptr) return {};
    const auto ctx = events::ParseTraceparent(*header);
    return ctx ? ctx->trace_id : std::string();
}

}  // namespace

MessagePipeline::MessagePipeline(Options options, store::Session& session, MessageHandler& handler,
                                 broker::Publisher& publisher, FaultInjector& faults,
                                 telemetry::Registry& metrics, OutboxHooks outbox)
    : options_(std::move(options)),
      session_(session),
      handler_(handler),
      publisher_(publisher),
      faults_(faults),
      metrics_(metrics),
      outbox_(std::move(outbox)),
      rng_(options_.seed),
      consumer_id_(fmt::format("{}@{}", options_.service, HostName())) {}

// What can be decided without the store: no message id, or a crash loop.
void MessagePipeline::Screen(const broker::Delivery& delivery, Action& action) {
    action.attempt = AttemptOf(delivery);
    if (delivery.properties.message_id.empty()) {
        action.kind = Action::Kind::kDeadLetter;
        action.failure = FailureKind::kPoison;
        action.error = "missing message_id (the idempotency key)";
        return;
    }
    // The quorum queue counts returns of unacked deliveries (consumer crashes). On the last
    // delivery the broker allows, dead-letter it ourselves so it carries a failure record;
    // the queue's x-delivery-limit remains the backstop if we crash even here.
    const auto returned = delivery.properties.IntHeader("x-delivery-count");
    if (returned && *returned >= broker::kDeliveryLimit) {
        action.kind = Action::Kind::kDeadLetter;
        action.failure = FailureKind::kExhausted;
        action.error =
            fmt::format("crash loop: delivered {} times without an ack (quorum delivery limit {})",
                        *returned + 1, broker::kDeliveryLimit);
        return;
    }
    action.kind = Action::Kind::kProcessed;  // for now: the store decides
}

// A consumer that dies gives back every message it held, and the quorum queue counts a
// delivery against each (x-delivery-count), not only against the one that killed it. With a
// prefetch above 1 the orders delivered beside a message that crashes the consumer every
// time would reach the delivery limit with it and be dead-lettered too. So while a batch
// holds such returned messages (count 1 or more), the pipeline leaves a breadcrumb, a file
// naming the message it is about to handle; a crash leaves it behind. The next process that
// meets that message in a batch gives it back once (requeued, which counts a delivery too)
// and handles and acks the others of its batch without it; the time after that it is handled, so
// a consumer that crashed once for another reason does not dead-letter it. The culprit's
// count grows by two per crash, the others' by at most one or two in all; on the last
// delivery Screen dead-letters the culprit with its failure record. Returns whether it
// isolates this batch.
bool MessagePipeline::DeferLastCrash(const std::vector<broker::Delivery>& batch,
                                     std::vector<Action>& actions) {
    if (options_.breadcrumb.empty()) return false;
    bool returned = false;
    for (size_t i = 0; i < batch.size() && !returned; ++i) {
        const auto count = batch[i].properties.IntHeader("x-delivery-count");
        returned = actions[i].kind != Action::Kind::kDeadLetter && count && *count >= 1;
    }
    if (!returned) return false;
    std::string culprit;
    std::ifstream(options_.breadcrumb) >> culprit;
    // Alone in its batch (prefetch 1, or nothing else delivered yet) it shields nobody:
    // handled at once, so the limit still means as many crashes as deliveries.
    if (culprit.empty() || batch.size() < 2) return true;
    for (size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].properties.message_id != culprit ||
            actions[i].kind == Action::Kind::kDeadLetter) {
            continue;
        }
        actions[i].kind = Action::Kind::kRequeue;
        actions[i].label = "deferred";
        actions[i].error =
            "deferred: the consumer stopped while handling this message; the other messages "
            "given back with it are handled first";
        std::error_code ignored;
        std::filesystem::remove(options_.breadcrumb, ignored);
        break;
    }
    return true;
}

// Written with no flush to disk: it only has to survive the process, not the machine.
void MessagePipeline::LeaveBreadcrumb(const std::string& message_id) {
    std::ofstream(options_.breadcrumb, std::ios::trunc) << message_id << '\n';
}

// Inside the batch's transaction; may run again if the store asks for a retry.
void MessagePipeline::RunBatch(const std::vector<broker::Delivery>& batch,
                               std::vector<Action>& actions, store::UnitOfWork& unit) {
    wrote_outbox_ = false;
    std::vector<size_t> todo;
    std::vector<std::string> ids;
    for (size_t i = 0; i < batch.size(); ++i) {
        if (actions[i].kind == Action::Kind::kDeadLetter ||
            actions[i].kind == Action::Kind::kRequeue) {
            continue;
        }
        Action fresh_action;
        fresh_action.attempt = actions[i].attempt;
        fresh_action.start = actions[i].start;
        actions[i] = std::move(fresh_action);
        todo.push_back(i);
        ids.push_back(batch[i].properties.message_id);
    }
    // The inbox claim comes first: a message id handled by another replica (or earlier)
    // is a duplicate; one another replica is handling now waits for its commit.
    const auto fresh = unit.Claim(ids, events::ToUnixMillis(options_.clock()));
    std::vector<const broker::Delivery*> claimed;
    for (size_t j = 0; j < todo.size(); ++j) {
        if (fresh[j]) {
            claimed.push_back(&batch[todo[j]]);
        } else {
            actions[todo[j]].kind = Action::Kind::kDuplicate;
            actions[todo[j]].label = "duplicate";
        }
    }
    handler_.Prepare(claimed, unit);
    std::vector<std::string> unclaim;
    for (size_t j = 0; j < todo.size(); ++j) {
        if (!fresh[j]) continue;
        const auto& delivery = batch[todo[j]];
        auto& action = actions[todo[j]];
        if (isolating_) LeaveBreadcrumb(delivery.properties.message_id);
        CrashIfMarked(delivery.body);
        HandleOne(delivery, action, unit);
        if (action.kind != Action::Kind::kProcessed)
            unclaim.push_back(delivery.properties.message_id);
    }
    unit.Unclaim(unclaim);
}

void MessagePipeline::HandleOne(const broker::Delivery& delivery, Action& action,
                                store::UnitOfWork& unit) {
    auto transient = [&](std::string error) {
        action.kind = Action::Kind::kRetry;
        action.error = std::move(error);
    };
    if (faults_.Enabled() && faults_.DelayThenShouldFail()) {
        transient("injected failure (ORDERFLOW_INJECT_FAIL_RATE)");
        return;
    }
    unit.Savepoint();
    try {
        std::vector<Emitted> emitted;
        auto outcome = handler_.Handle(delivery, unit, emitted);
        action.order_id = outcome.order_id;
        switch (outcome.kind) {
            case HandlerOutcome::Kind::kDone:
                WriteOutbox(delivery, emitted, unit);
                unit.ReleaseSavepoint();
                action.kind = Action::Kind::kProcessed;
                action.label = std::move(outcome.label);
                action.note = std::move(outcome.note);
                return;
            case HandlerOutcome::Kind::kPoison:
                action.kind = Action::Kind::kDeadLetter;
                action.failure = FailureKind::kPoison;
                action.error = std::move(outcome.error);
                break;
            case HandlerOutcome::Kind::kTransient:
                transient(std::move(outcome.error));
                break;
        }
    } catch (const store::StoreException&) {
        // The whole transaction is in doubt (PostgreSQL aborts it on any error): let
        // Transact roll it back and say what kind of failure it was.
        throw;
    } catch (const std::exception& e) {
        // A bug in the handler: retried like any transient failure.
        transient(fmt::format("handler error: {}", e.what()));
    }
    unit.RollbackSavepoint();
}

void MessagePipeline::WriteOutbox(const broker::Delivery& delivery,
                                  const std::vector<Emitted>& emitted, store::UnitOfWork& unit) {
    const auto* parent_header = delivery.properties.Header("traceparent");
    const auto parent = parent_header ? events::ParseTraceparent(*parent_header) : std::nullopt;
    for (const auto& event : emitted) {
        // Validated on publish: by Emitted::Of, as it was encoded.
        const auto trace = parent ? events::ChildSpan(*parent) : events::NewTrace();
        wrote_outbox_ = true;
        unit.AddOutbox(store::OutboxEntry{
            .exchange = broker::kEventsExchange.value,
            .routing_key = std::string(events::RoutingKey(event.type())),
            .message_id = event.event_id(),
            .correlation_id = event.order_id(),
            .type = std::string(events::TypeName(event.type())),
            .app_id = options_.service,
            .traceparent = events::FormatTraceparent(trace),
            .timestamp = events::ToUnixMillis(options_.clock()),
            .body = event.body(),
        });
    }
}

void MessagePipeline::HandleBatch(const std::vector<broker::Delivery>& batch,
                                  std::vector<broker::Disposition>& out) {
    MaybePrune();
    std::vector<Action> actions(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
        actions[i].start = std::chrono::steady_clock::now();
        Screen(batch[i], actions[i]);
    }
    isolating_ = DeferLastCrash(batch, actions);
    // An outage is not a message failure: hold the batch (unacked) and try again until the
    // database answers; only a shutdown gives it back.
    auto pause = std::chrono::milliseconds(100);
    bool waited = false;
    std::optional<store::StoreError> failure;
    // The outbox rows the relay published since the last batch are deleted with this one.
    ConfirmedRows confirmed(outbox_);
    while (true) {
        auto result = session_.Transact([&](store::UnitOfWork& unit) {
            RunBatch(batch, actions, unit);
            unit.DeleteOutbox(confirmed.ids);
        });
        if (result) {
            confirmed.Deleted();
            break;
        }
        if (result.error().kind != store::StoreError::Kind::kUnavailable) {
            failure = result.error();
            break;
        }
        if (!waited) {
            telemetry::Log(telemetry::LogLevel::kWarn, "store unavailable; holding the batch",
                           {{"queue", options_.queue.value},
                            {"messages", static_cast<int64_t>(batch.size())},
                            {"error", result.error().message}});
            waited = true;
        }
        if (abandon_) {
            out.assign(batch.size(), broker::Disposition::kRequeue);
            return;
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(1000));
    }
    if (waited) {
        telemetry::Log(telemetry::LogLevel::kInfo, "store back; batch handled",
                       {{"queue", options_.queue.value}});
    }
    if (failure) {
        // Its messages are retried below, each with the error. The published outbox rows it
        // was to delete go back to the relay (ConfirmedRows), which deletes them itself.
        telemetry::Log(telemetry::LogLevel::kWarn, "batch transaction failed",
                       {{"queue", options_.queue.value},
                        {"messages", static_cast<int64_t>(batch.size())},
                        {"outbox_rows_given_back", static_cast<int64_t>(confirmed.ids.size())},
                        {"error", failure->message}});
    }
    bool emitted = false;
    for (auto& action : actions) {
        if (failure &&
            (action.kind == Action::Kind::kProcessed || action.kind == Action::Kind::kDuplicate ||
             action.kind == Action::Kind::kRetry)) {
            // The transaction is gone: nothing of this batch took effect.
            action.kind = Action::Kind::kRetry;
            action.error = fmt::format("store error ({}): {}", store::KindName(failure->kind),
                                       failure->message);
        }
        emitted = emitted || action.kind == Action::Kind::kProcessed;
    }
    if (emitted) {
        for (size_t i = 0; i < batch.size(); ++i) {
            if (actions[i].kind == Action::Kind::kProcessed)
                CrashAfterCommitIfMarked(batch[i].body);
        }
    }
    if (isolating_) {  // no crash in this batch: nothing to blame next time
        std::error_code ignored;
        std::filesystem::remove(options_.breadcrumb, ignored);
    }
    Settle(batch, actions, out);
    // The relay looks at the outbox when told there is something in it (and once a second):
    // a batch whose handlers emitted nothing (the ingress's order-status projection) does
    // not wake it.
    if (emitted && wrote_outbox_ && outbox_.ready) outbox_.ready();
}

void MessagePipeline::Settle(const std::vector<broker::Delivery>& batch,
                             std::vector<Action>& actions, std::vector<broker::Disposition>& out) {
    const auto now = options_.clock();
    struct Copy {
        size_t index;
        broker::OutgoingMessage message;  // kept to send it again
        std::future<broker::PublishStatus> status;
    };
    std::vector<Copy> pending;
    const auto send = [&](size_t index, broker::OutgoingMessage message) {
        auto status = publisher_.Publish(message);
        pending.push_back(Copy{index, std::move(message), std::move(status)});
    };
    for (size_t i = 0; i < batch.size(); ++i) {
        auto& action = actions[i];
        if (action.kind == Action::Kind::kRetry) {
            action.retry = DecideRetry(options_.retry, action.attempt, rng_);
            if (action.retry.dead_letter) {
                action.kind = Action::Kind::kDeadLetter;
                action.failure = FailureKind::kExhausted;
                action.error = fmt::format("{} (after {} attempts)", action.error, action.attempt);
            } else {
                send(i, RetryMessage(batch[i], action.retry.next_attempt,
                                     broker::RetryQueue(options_.queue, action.retry.level),
                                     action.retry.delay, now, action.error));
                continue;
            }
        }
        if (action.kind == Action::Kind::kDeadLetter) {
            send(i, DeadLetterMessage(batch[i], FailureInfo{.kind = action.failure,
                                                            .error = action.error,
                                                            .attempts = action.attempt,
                                                            .consumer = consumer_id_,
                                                            .now = now}));
        }
    }
    // Ack a dead-lettered or retried message only once its copy is confirmed. A copy that
    // could not even be sent because the publisher is not connected (yet: it starts beside
    // the consumer, and reconnects on its own) is sent again for a while: requeueing it at
    // once would count a delivery against the quorum queue's limit, and on the last
    // allowed delivery the broker would dead-letter it without our failure record.
    constexpr auto kPublisherPatience = std::chrono::seconds(10);
    const auto deadline = std::chrono::steady_clock::now() + kPublisherPatience;
    for (auto& copy : pending) {
        auto result = copy.status.get();
        while (result == broker::PublishStatus::kNotConnected &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            result = publisher_.Publish(copy.message).get();
        }
        if (result != broker::PublishStatus::kConfirmed) {
            actions[copy.index].error +=
                fmt::format(" (republish failed: {}; requeued)", broker::StatusName(result));
            actions[copy.index].kind = Action::Kind::kRequeue;
        }
    }
    out.resize(batch.size());
    // One line per message, written together before the batch is acked.
    const telemetry::LogBatch logs;
    for (size_t i = 0; i < batch.size(); ++i) {
        out[i] = actions[i].kind == Action::Kind::kRequeue ? broker::Disposition::kRequeue
                                                           : broker::Disposition::kAck;
        Report(batch[i], actions[i]);
    }
}

void MessagePipeline::Report(const broker::Delivery& delivery, const Action& action) {
    using Kind = Action::Kind;
    std::string_view outcome;
    switch (action.kind) {
        case Kind::kProcessed:
            outcome = "processed";
            break;
        case Kind::kDuplicate:
            outcome = "duplicate";
            break;
        case Kind::kRetry:
            outcome = "retried";
            break;
        case Kind::kRequeue:
            outcome = "requeued";
            break;
        case Kind::kDeadLetter:
            outcome = FailureKindName(action.failure);
            break;
    }
    const auto& queue = options_.queue.value;
    // The registry's lookup builds its name, help and labels as strings each time: the
    // series of the hot path are looked up once.
    auto& consumed = consumed_[outcome];
    if (consumed == nullptr) {
        consumed = &metrics_.GetCounter("orderflow_messages_consumed_total",
                                        "Messages consumed, by outcome",
                                        {{"queue", queue}, {"outcome", std::string(outcome)}});
    }
    consumed->Inc();
    if (action.kind != Kind::kRequeue) {
        if (acked_ == nullptr) {
            acked_ = &metrics_.GetCounter("orderflow_messages_acked_total", "Messages acked",
                                          {{"queue", queue}});
        }
        acked_->Inc();
    }
    if (action.kind == Kind::kRetry) {
        metrics_
            .GetCounter("orderflow_messages_retried_total", "Messages sent to a delay queue",
                        {{"queue", queue}})
            .Inc();
    }
    if (action.kind == Kind::kDeadLetter) {
        metrics_
            .GetCounter("orderflow_messages_dead_lettered_total", "Messages sent to the DLQ",
                        {{"queue", queue}, {"kind", std::string(outcome)}})
            .Inc();
    }
    const auto elapsed = std::chrono::steady_clock::now() - action.start;
    const double seconds = std::chrono::duration<double>(elapsed).count();
    if (handling_ == nullptr) {
        handling_ = &metrics_.GetHistogram("orderflow_message_handling_seconds",
                                           "Time to handle one message", {{"queue", queue}});
    }
    handling_->Observe(seconds);

    const auto level = action.kind == Kind::kDeadLetter || action.kind == Kind::kRequeue
                           ? telemetry::LogLevel::kWarn
                           : telemetry::LogLevel::kInfo;
    const std::string order_id =
        action.order_id.empty() ? delivery.properties.correlation_id : action.order_id;
    telemetry::Log(level, action.note.empty() ? std::string_view("message handled") : action.note,
                   {{"event", delivery.properties.type},
                    {"queue", queue},
                    {"order_id", order_id},
                    {"message_id", delivery.properties.message_id},
                    {"outcome", action.label.empty() ? outcome : std::string_view(action.label)},
                    {"attempt", action.attempt},
                    {"latency_ms", seconds * 1000.0},
                    {"trace_id", TraceId(delivery)},
                    {"error", action.error}});
}

void MessagePipeline::MaybePrune() {
    const auto now = std::chrono::steady_clock::now();
    if (last_prune_ && now - *last_prune_ < std::chrono::hours(1)) return;
    last_prune_ = now;
    try {
        const int pruned = PruneInbox(options_.inbox_retention);
        if (pruned > 0) {
            telemetry::Log(telemetry::LogLevel::kInfo, "pruned processed message ids",
                           {{"count", pruned}});
        }
    } catch (const std::exception& e) {
        telemetry::Log(telemetry::LogLevel::kWarn, "inbox prune failed", {{"error", e.what()}});
    }
}

int MessagePipeline::PruneInbox(std::chrono::hours retention) {
    const auto cutoff = options_.clock() - retention;
    auto pruned = session_.PruneInbox(events::ToUnixMillis(cutoff));
    if (!pruned) throw std::runtime_error(pruned.error().message);
    return *pruned;
}

}  // namespace orderflow::service
