// Outbox relay; see outbox_relay.hpp.
#include "service/outbox_relay.hpp"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "telemetry/log.hpp"

namespace orderflow::service {
namespace {

constexpr int kChunk = 1000;

broker::OutgoingMessage ToMessage(const store::OutboxEntry& entry) {
    broker::OutgoingMessage message;
    message.exchange = broker::ExchangeName{entry.exchange};
    message.routing_key = broker::RoutingKey{entry.routing_key};
    message.properties.message_id = entry.message_id;
    message.properties.correlation_id = entry.correlation_id;
    message.properties.type = entry.type;
    message.properties.app_id = entry.app_id;
    message.properties.timestamp = entry.timestamp / 1000;
    if (!entry.traceparent.empty()) message.properties.headers["traceparent"] = entry.traceparent;
    message.body = entry.body;
    message.mandatory = true;
    return message;
}

}  // namespace

OutboxRelay::OutboxRelay(std::unique_ptr<store::Session> session, broker::Publisher& publisher,
                         telemetry::Registry& metrics)
    : session_(std::move(session)),
      publisher_(publisher),
      published_(metrics.GetCounter("orderflow_outbox_published_total",
                                    "Outbox events confirmed by the broker")),
      rounds_total_(metrics.GetCounter(
          "orderflow_outbox_relay_rounds_total",
          "Rounds of the outbox relay: looks at the outbox for rows to publish")) {}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::Start() {
    thread_ = std::thread([this] {
        ::pthread_setname_np(::pthread_self(), "outbox-relay");
        Run();
    });
}

void OutboxRelay::Notify() {
    {
        std::lock_guard lock(mutex_);
        notified_ = true;
    }
    wake_.notify_one();
}

struct OutboxRelay::Round {
    size_t attempted = 0;
    size_t remaining = 0;
    size_t confirmed = 0;
    broker::PublishStatus first_failure = broker::PublishStatus::kConfirmed;
};

int OutboxRelay::StartRound() {
    // Not connected: claim nothing, so another replica's relay may take the rows.
    if (!publisher_.Connected()) return session_->OutboxDepth().value_or(1) > 0 ? -1 : 0;
    auto claimed = session_->ClaimOutbox(kChunk, kLease);
    if (!claimed) throw std::runtime_error("claiming the outbox: " + claimed.error().message);
    auto& rows = *claimed;
    if (rows.empty()) return 0;
    // Shared by the callbacks; the relay thread does not return from Run while any is due.
    auto round = std::make_shared<Round>();
    {
        std::lock_guard lock(mutex_);
        round->attempted = round->remaining = rows.size();
        ++rounds_in_flight_;
    }
    for (size_t i = 0; i < rows.size(); ++i) {
        try {
            publisher_.Publish(ToMessage(rows[i]),
                               [this, round, id = rows[i].id](broker::PublishStatus status) {
                                   Settle(*round, id, status);
                               });
        } catch (...) {
            // The rows not handed over are answered here, so that the round ends.
            for (size_t j = i; j < rows.size(); ++j) {
                Settle(*round, rows[j].id, broker::PublishStatus::kNotConnected);
            }
            throw;
        }
    }
    return static_cast<int>(rows.size());
}

void OutboxRelay::Settle(Round& round, int64_t id, broker::PublishStatus status) {
    std::lock_guard lock(mutex_);
    if (status == broker::PublishStatus::kConfirmed) {
        // Deleted by the next batch transaction (TakeConfirmed), else by DeleteConfirmed.
        if (confirmed_.empty()) confirmed_since_ = std::chrono::steady_clock::now();
        confirmed_.push_back(id);
        ++round.confirmed;
    } else {
        // Released by the relay thread, for us or another replica to send again.
        if (round.first_failure == broker::PublishStatus::kConfirmed) {
            round.first_failure = status;  // the first failure of this round
        }
        unconfirmed_.push_back(id);
    }
    if (--round.remaining > 0) return;
    if (round.first_failure == broker::PublishStatus::kConfirmed) {
        clean_round_ = true;
    } else {
        failures_.push_back({round.confirmed, round.attempted, round.first_failure});
    }
    published_.Inc(static_cast<double>(round.confirmed));
    --rounds_in_flight_;
    completed_ = true;
    // Under the lock: once rounds_in_flight_ is 0 and the lock is free, Run may return and
    // the relay be destroyed.
    wake_.notify_all();
}

bool OutboxRelay::HandleFailures() {
    std::vector<int64_t> unconfirmed;
    std::vector<Failure> failures;
    {
        std::lock_guard lock(mutex_);
        unconfirmed.swap(unconfirmed_);
        failures.swap(failures_);
    }
    if (unconfirmed.empty() && failures.empty()) return false;
    for (const auto& failure : failures) {
        telemetry::Log(telemetry::LogLevel::kWarn, "outbox publish incomplete; will retry",
                       {{"confirmed", static_cast<int64_t>(failure.confirmed)},
                        {"attempted", static_cast<int64_t>(failure.attempted)},
                        {"first_failure", std::string(broker::StatusName(failure.first))}});
    }
    // The confirmed ones are deleted now rather than left for a batch: the relay retries
    // soon, and rows it already sent had better be gone by then.
    try {
        DeleteConfirmed(true);
    } catch (const std::exception& e) {
        telemetry::Log(telemetry::LogLevel::kWarn, "outbox relay", {{"error", e.what()}});
    }
    if (auto released = session_->ReleaseOutbox(unconfirmed); !released) {
        // Kept, and released on a later pass; the relay is not idle until then.
        {
            std::lock_guard lock(mutex_);
            unconfirmed_.insert(unconfirmed_.end(), unconfirmed.begin(), unconfirmed.end());
        }
        telemetry::Log(telemetry::LogLevel::kWarn, "outbox relay",
                       {{"error", "releasing unconfirmed rows: " + released.error().message}});
    }
    return true;
}

std::vector<int64_t> OutboxRelay::TakeConfirmed() {
    std::lock_guard lock(mutex_);
    return std::exchange(confirmed_, {});
}

void OutboxRelay::GiveBack(std::vector<int64_t> ids) {
    if (ids.empty()) return;
    {
        // Ours from now on, deleted on the next round: not offered to a batch again, so
        // batches that keep failing cannot keep them from being deleted.
        std::lock_guard lock(mutex_);
        returned_.insert(returned_.end(), ids.begin(), ids.end());
    }
    wake_.notify_one();
}

void OutboxRelay::DeleteConfirmed(bool all) {
    std::vector<int64_t> ids;
    {
        std::lock_guard lock(mutex_);
        ids.swap(returned_);
        if (!confirmed_.empty() &&
            (all || flushing_ > 0 ||
             std::chrono::steady_clock::now() - confirmed_since_ >= kDeleteGrace)) {
            ids.insert(ids.end(), confirmed_.begin(), confirmed_.end());
            confirmed_.clear();
        }
    }
    if (ids.empty()) return;
    if (auto deleted = session_->DeleteOutbox(ids); !deleted) {
        // Still claimed by us, so not published again; deleted on a later round (or, if we
        // stop first, published again after a restart and dropped downstream as duplicates).
        {
            std::lock_guard lock(mutex_);
            returned_.insert(returned_.end(), ids.begin(), ids.end());
        }
        throw std::runtime_error("deleting published outbox rows: " + deleted.error().message);
    }
}

void OutboxRelay::Run() {
    constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
    constexpr auto kLastBackoff = std::chrono::milliseconds(2000);
    auto backoff = kFirstBackoff;
    // After a failure, no round starts and no retry of a delete happens before this.
    bool backing_off = false;
    std::chrono::steady_clock::time_point retry_at{};
    // Whether to claim rows on the next pass that may start a round: after a notify, a full
    // chunk, a failure (once the backoff ends), the periodic second, or for Flush. Not when a
    // round merely ended: the rows committed meanwhile have notified us.
    bool look = true;
    const auto fail = [&] {
        look = true;
        if (backing_off) return;  // one outage, one step of the backoff
        backing_off = true;
        retry_at = std::chrono::steady_clock::now() + backoff;
        backoff = std::min(backoff * 2, kLastBackoff);
    };
    // The periodic look: a second after the last one.
    auto periodic = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    bool full = false;  // the last round took a full chunk: more may be waiting
    while (true) {
        if (backing_off && std::chrono::steady_clock::now() >= retry_at) backing_off = false;
        bool failed = false;
        bool delete_failed = false;
        if (!backing_off) {
            failed = HandleFailures();
            try {
                // After a full chunk the next one follows at once, and its confirms may take
                // long: what the last ones got confirmed is deleted first, inside the lease.
                DeleteConfirmed(full);
            } catch (const std::exception& e) {
                telemetry::Log(telemetry::LogLevel::kError, "outbox relay error",
                               {{"error", e.what()}});
                delete_failed = true;  // publishing goes on; the delete waits for the backoff
            }
        }
        bool clean = false;  // a round ended with every row confirmed
        bool may_start = false;
        {
            std::lock_guard lock(mutex_);
            clean = std::exchange(clean_round_, false);
            look = look || flushing_ > 0;
            may_start = rounds_in_flight_ < kMaxRounds;
        }
        if (failed) fail();
        int result = -1;  // -1: no round looked at the outbox on this pass, or it failed
        bool start_failed = false;
        if (may_start && look && !backing_off) {
            look = false;
            periodic = std::chrono::steady_clock::now() + std::chrono::seconds(1);
            rounds_total_.Inc();
            try {
                result = StartRound();
            } catch (const std::exception& e) {
                telemetry::Log(telemetry::LogLevel::kError, "outbox relay error",
                               {{"error", e.what()}});
                result = -1;
            }
            start_failed = result < 0;
            if (start_failed) fail();
        }
        // The backoff starts over once a round got everything confirmed, or the outbox had
        // nothing to publish: not when a round merely started (it may still be nacked).
        if ((clean || result == 0) && !failed && !delete_failed && !start_failed) {
            backoff = kFirstBackoff;
        }
        if (delete_failed) fail();
        std::unique_lock lock(mutex_);
        ++rounds_;
        idle_ = result == 0 && rounds_in_flight_ == 0 && confirmed_.empty() && returned_.empty() &&
                unconfirmed_.empty() && failures_.empty();
        drained_.notify_all();
        if (stop_) break;
        // A full chunk: more may be waiting, and the next round starts at once if it may.
        full = result == kChunk;
        look = look || full;
        if (full && !backing_off && rounds_in_flight_ < kMaxRounds) continue;
        // Until new rows are notified (a short chunk took all there were), a round ends, ids
        // are given back, or a deadline: the backoff after a failure, confirmed ids that
        // waited kDeleteGrace for a batch, or a second (rows from before a restart, or left
        // by a dead replica on PostgreSQL). During a backoff only its end or Stop wakes us.
        while (!stop_ && (backing_off || (!notified_ && !completed_ && returned_.empty()))) {
            // Looking already (and waiting for a round to end): the periodic look is moot.
            auto deadline =
                look ? std::chrono::steady_clock::now() + std::chrono::hours(1) : periodic;
            if (backing_off) {
                deadline = retry_at;
            } else if (!confirmed_.empty()) {
                deadline = std::min(deadline, confirmed_since_ + kDeleteGrace);
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                look = look || deadline == periodic || backing_off;
                break;
            }
            wake_.wait_until(lock, deadline);
        }
        look = look || notified_;
        notified_ = false;
        completed_ = false;
        if (stop_) break;
    }
    // The callbacks of rounds in flight refer to this relay: they end first (the publisher
    // answers each publish: confirmed, nacked, or failed when it disconnects or stops).
    {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return rounds_in_flight_ == 0; });
    }
    // What was confirmed is deleted now: after a restart it would be published again. What
    // was not is released, for another replica to take at once rather than after the lease.
    HandleFailures();
    try {
        DeleteConfirmed(true);
    } catch (const std::exception& e) {
        telemetry::Log(telemetry::LogLevel::kWarn, "outbox relay stopping", {{"error", e.what()}});
    }
}

bool OutboxRelay::Flush(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    ++flushing_;  // confirmed ids are deleted at once, not left for a batch to take
    notified_ = true;
    wake_.notify_one();
    // Only a round that started after this call can vouch for an empty outbox.
    const auto after = rounds_ + 1;
    // Idle rather than empty: rows other replicas hold are theirs to publish.
    const bool drained = drained_.wait_for(lock, timeout, [&] { return rounds_ > after && idle_; });
    --flushing_;
    return drained;
}

void OutboxRelay::Stop() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

}  // namespace orderflow::service
