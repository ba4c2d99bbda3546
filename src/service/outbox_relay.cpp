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

int OutboxRelay::PublishChunk() {
    // Not connected: claim nothing, so another replica's relay may take the rows.
    if (!publisher_.Connected()) return session_->OutboxDepth().value_or(1) > 0 ? -1 : 0;
    auto claimed = session_->ClaimOutbox(kChunk, kLease);
    if (!claimed) throw std::runtime_error("claiming the outbox: " + claimed.error().message);
    auto& rows = *claimed;
    if (rows.empty()) return 0;

    struct Round {
        std::mutex mutex;
        std::condition_variable done;
        size_t remaining = 0;
        std::vector<int64_t> confirmed;
        bool failed = false;
        broker::PublishStatus first_failure = broker::PublishStatus::kConfirmed;
    };
    auto round = std::make_shared<Round>();
    round->remaining = rows.size();
    const auto settle = [round](int64_t id, broker::PublishStatus status) {
        std::lock_guard lock(round->mutex);
        if (status == broker::PublishStatus::kConfirmed) {
            round->confirmed.push_back(id);
        } else {
            if (!round->failed) round->first_failure = status;
            round->failed = true;
        }
        if (--round->remaining == 0) round->done.notify_one();
    };
    for (size_t i = 0; i < rows.size(); ++i) {
        try {
            publisher_.Publish(
                ToMessage(rows[i]),
                [settle, id = rows[i].id](broker::PublishStatus status) { settle(id, status); });
        } catch (const std::exception& e) {
            // The rows not handed over are answered here, so that the round ends.
            telemetry::Log(telemetry::LogLevel::kError, "outbox relay error",
                           {{"error", e.what()}});
            for (size_t j = i; j < rows.size(); ++j) {
                settle(rows[j].id, broker::PublishStatus::kNotConnected);
            }
            break;
        }
    }
    std::vector<int64_t> confirmed;
    bool failed = false;
    broker::PublishStatus first_failure = broker::PublishStatus::kConfirmed;
    {
        std::unique_lock lock(round->mutex);
        round->done.wait(lock, [&] { return round->remaining == 0; });
        confirmed.swap(round->confirmed);
        failed = round->failed;
        first_failure = round->first_failure;
    }
    {
        // Deleted by the next batch transaction (TakeConfirmed), else by DeleteConfirmed.
        std::lock_guard lock(mutex_);
        if (confirmed_.empty()) confirmed_since_ = std::chrono::steady_clock::now();
        confirmed_.insert(confirmed_.end(), confirmed.begin(), confirmed.end());
    }
    if (failed) {
        // What was not confirmed goes back at once, for us or another replica to send.
        std::vector<int64_t> unconfirmed;
        std::sort(confirmed.begin(), confirmed.end());
        for (const auto& row : rows) {
            if (!std::binary_search(confirmed.begin(), confirmed.end(), row.id)) {
                unconfirmed.push_back(row.id);
            }
        }
        // The confirmed ones are deleted now rather than left for a batch: the relay retries
        // soon, and rows it already sent had better be gone by then.
        try {
            DeleteConfirmed(true);
        } catch (const std::exception& e) {
            telemetry::Log(telemetry::LogLevel::kWarn, "outbox relay", {{"error", e.what()}});
        }
        try {
            Release(std::move(unconfirmed));
        } catch (const std::exception& e) {
            telemetry::Log(telemetry::LogLevel::kWarn, "outbox relay", {{"error", e.what()}});
        }
    }
    published_.Inc(static_cast<double>(confirmed.size()));
    if (failed) {
        telemetry::Log(telemetry::LogLevel::kWarn, "outbox publish incomplete; will retry",
                       {{"confirmed", static_cast<int64_t>(confirmed.size())},
                        {"attempted", static_cast<int64_t>(rows.size())},
                        {"first_failure", std::string(broker::StatusName(first_failure))}});
        return -1;
    }
    return static_cast<int>(confirmed.size());
}

void OutboxRelay::Release(std::vector<int64_t> ids) {
    const auto now = std::chrono::steady_clock::now();
    if (unreleased_.empty()) unreleased_since_ = now;
    unreleased_.insert(unreleased_.end(), ids.begin(), ids.end());
    if (unreleased_.empty()) return;
    if (now - unreleased_since_ >= kLease) {
        // Only PostgreSQL's release can fail, and these claims have run out by now: another
        // relay may hold the rows, and a late release would let a third publish them too.
        unreleased_.clear();
        return;
    }
    if (auto released = session_->ReleaseOutbox(unreleased_); !released) {
        // Kept, and released on a later round (within the lease): until then the relay is
        // not idle, so Flush does not report an empty outbox.
        throw std::runtime_error("releasing unconfirmed outbox rows: " + released.error().message);
    }
    unreleased_.clear();
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
    auto backoff = std::chrono::milliseconds(100);
    int result = 0;
    while (true) {
        bool delete_failed = false;
        try {
            // After a full chunk the next one follows at once, and its confirms may take long:
            // what the last one got confirmed is deleted first, well inside its lease.
            DeleteConfirmed(result == kChunk);
            Release({});  // what an earlier round failed to release
        } catch (const std::exception& e) {
            telemetry::Log(telemetry::LogLevel::kError, "outbox relay error",
                           {{"error", e.what()}});
            delete_failed = true;  // publishing goes on; the delete is tried after a backoff
        }
        try {
            result = PublishChunk();
        } catch (const std::exception& e) {
            telemetry::Log(telemetry::LogLevel::kError, "outbox relay error",
                           {{"error", e.what()}});
            result = -1;
        }
        rounds_total_.Inc();
        std::unique_lock lock(mutex_);
        ++rounds_;
        idle_ = result == 0 && confirmed_.empty() && returned_.empty() && unreleased_.empty();
        drained_.notify_all();
        if (stop_) break;
        // A full chunk: more may be waiting. A short one emptied the outbox of what we may
        // publish; rows committed since then have notified us.
        if (result == kChunk) continue;
        if (result < 0 || delete_failed) {
            wake_.wait_for(lock, backoff, [&] { return stop_; });
            backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
            if (stop_) break;
            continue;
        }
        backoff = std::chrono::milliseconds(100);
        // Until notified; also once a second (rows from before a restart, or after a
        // reconnect), and when confirmed ids waited kDeleteGrace for a batch to take them.
        const auto periodic = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (!notified_ && !stop_ && returned_.empty()) {
            const bool held = !confirmed_.empty();
            const auto deadline =
                held ? std::min(periodic, confirmed_since_ + kDeleteGrace) : periodic;
            if (wake_.wait_until(lock, deadline) == std::cv_status::timeout &&
                (held == !confirmed_.empty() || deadline == periodic)) {
                break;
            }
        }
        notified_ = false;
        if (stop_) break;
    }
    // What was confirmed is deleted now: after a restart it would be published again.
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
