// The nodes of a broker cluster and the order in which a process tries them (SPEC 9).
//
// ORDERFLOW_AMQP_URL may list several amqp(s):// URLs separated by commas, one per node of
// one cluster. Each process shuffles that list once (so replicas spread over the nodes),
// and every connection it opens starts with the node in use; a connection that is lost
// moves the process on to the next node of the shuffled ring, and one that cannot be opened
// tries the others in ring order. rabbitmq-c knows one host per connection: this is the
// only place that knows about clusters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace orderflow::broker {

// Splits and checks a node list: each entry a complete amqp:// or amqps:// URL that
// rabbitmq-c accepts, blanks around commas ignored, at least one. A comma inside a
// password must be written %2C. The error names the bad entry without its password.
std::expected<std::vector<std::string>, std::string> ParseNodeUrls(std::string_view urls);

// Every URL of the list with its password replaced by ***, for logs and messages.
std::string RedactNodeUrls(std::string_view urls);

// The failover order of one process over the nodes of one list. Thread-safe.
class NodeRing final {
  public:
    // `nodes` in the order given; `seed` decides the shuffle (tests inject it).
    NodeRing(std::vector<std::string> nodes, uint64_t seed);

    size_t Size() const { return nodes_.size(); }
    const std::string& Url(size_t index) const { return nodes_[index]; }
    // The indices to try for a new connection: the node in use first, then the others in
    // ring order; each node once.
    std::vector<size_t> Candidates() const;
    // A connection to `index` was opened: it becomes the node in use.
    void Connected(size_t index);
    // A connection to `index` was lost: if it is still the node in use, the next node of
    // the ring becomes the one to try first (another connection may have moved on already).
    void Lost(size_t index);
    size_t Current() const;

  private:
    std::vector<std::string> nodes_;  // shuffled once, never changed
    mutable std::mutex mutex_;
    size_t current_ = 0;
};

// The process-wide ring of a node list (one per distinct list; a list that does not parse
// gets a ring of that one text, whose connection then fails with rabbitmq-c's error).
// Seeded from std::random_device, or from ORDERFLOW_AMQP_SHUFFLE_SEED when that is set
// (reproducible runs).
std::shared_ptr<NodeRing> RingFor(const std::string& urls);

}  // namespace orderflow::broker
