// Internal: the publisher's unconfirmed messages by delivery tag. basic.ack/basic.nack
// (with the multiple flag) and basic.return resolve them; every callback is handed out
// exactly once. Pure bookkeeping, no I/O, so it is unit-tested without a broker.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "broker/publisher.hpp"

namespace orderflow::broker::impl {

struct InFlight {
    PublishCallback callback;
    // basic.return carries no delivery tag; these identify the returned message.
    std::string message_id;
    std::string exchange;
    std::string routing_key;
    bool returned = false;
};

using Completion = std::pair<PublishCallback, PublishStatus>;

// PublisherStats as atomics: written by the publisher thread, read by any.
struct PublishCounters {
    std::atomic<uint64_t> published{0}, confirmed{0}, nacked{0}, returned{0}, failed{0};

    void Count(PublishStatus status) {
        auto& counter = status == PublishStatus::kConfirmed    ? confirmed
                        : status == PublishStatus::kNacked     ? nacked
                        : status == PublishStatus::kUnroutable ? returned
                                                               : failed;
        counter.fetch_add(1, std::memory_order_relaxed);
    }
    PublisherStats Snapshot() const {
        return {published.load(), confirmed.load(), nacked.load(), returned.load(), failed.load()};
    }
};

class ConfirmTracker final {
  public:
    void Add(uint64_t tag, InFlight entry);
    size_t Size() const { return pending_.size(); }
    bool Empty() const { return pending_.empty(); }

    // A returned message is still acked afterwards; that ack then reports kUnroutable.
    void Ack(uint64_t tag, bool multiple, std::vector<Completion>& out);
    void Nack(uint64_t tag, bool multiple, std::vector<Completion>& out);
    // Marks the oldest unreturned message with these identifiers; false if none matches.
    bool MarkReturned(const std::string& message_id, const std::string& exchange,
                      const std::string& routing_key);
    void FailAll(PublishStatus status, std::vector<Completion>& out);

  private:
    void Resolve(uint64_t tag, bool multiple, PublishStatus status, std::vector<Completion>& out);
    std::map<uint64_t, InFlight> pending_;
};

}  // namespace orderflow::broker::impl
