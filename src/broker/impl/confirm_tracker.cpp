// Publisher confirm bookkeeping; see confirm_tracker.hpp.
#include "broker/impl/confirm_tracker.hpp"

namespace orderflow::broker::impl {

void ConfirmTracker::Add(uint64_t tag, InFlight entry) { pending_.emplace(tag, std::move(entry)); }

void ConfirmTracker::Resolve(uint64_t tag, bool multiple, PublishStatus status,
                             std::vector<Completion>& out) {
    auto finish = [&](InFlight& entry) {
        // An unroutable message is acked by the broker after its basic.return (or, rarely,
        // nacked): either way the caller needs to know it reached no queue.
        out.emplace_back(std::move(entry.callback),
                         entry.returned ? PublishStatus::kUnroutable : status);
    };
    if (!multiple) {
        const auto it = pending_.find(tag);
        if (it == pending_.end()) return;  // unknown or already resolved: ignore, never twice
        finish(it->second);
        pending_.erase(it);
        return;
    }
    const auto end = pending_.upper_bound(tag);
    for (auto it = pending_.begin(); it != end; ++it) finish(it->second);
    pending_.erase(pending_.begin(), end);
}

void ConfirmTracker::Ack(uint64_t tag, bool multiple, std::vector<Completion>& out) {
    Resolve(tag, multiple, PublishStatus::kConfirmed, out);
}

void ConfirmTracker::Nack(uint64_t tag, bool multiple, std::vector<Completion>& out) {
    Resolve(tag, multiple, PublishStatus::kNacked, out);
}

bool ConfirmTracker::MarkReturned(const std::string& message_id, const std::string& exchange,
                                  const std::string& routing_key) {
    // The broker returns messages in publish order, so the oldest match is the one.
    for (auto& [tag, entry] : pending_) {
        if (!entry.returned && entry.message_id == message_id && entry.exchange == exchange &&
            entry.routing_key == routing_key) {
            entry.returned = true;
            return true;
        }
    }
    return false;
}

void ConfirmTracker::FailAll(PublishStatus status, std::vector<Completion>& out) {
    for (auto& [tag, entry] : pending_) out.emplace_back(std::move(entry.callback), status);
    pending_.clear();
}

}  // namespace orderflow::broker::impl
