// Internal: one RAII rabbitmq-c connection (TCP or TLS), opened from an amqp(s):// URL, and
// the small protocol chores every owner of a connection needs (channels, answering a close
// from the broker, graceful close). Not thread-safe: the owning thread does everything.
#pragma once

#include <amqp.h>

#include <chrono>
#include <expected>
#include <memory>
#include <string>

#include "broker/connection_options.hpp"
#include "broker/node_list.hpp"
#include "broker/topology.hpp"

namespace orderflow::broker::impl {

struct ParsedUrl {
    std::string host;
    int port = 5672;
    std::string user;
    std::string password;
    std::string vhost;
    bool tls = false;
};
// amqp_parse_url on a copy; a "?query" suffix (heartbeat=... in other clients) is ignored.
std::expected<ParsedUrl, std::string> ParseUrl(const std::string& url);
// The URL without its password, for logs and error messages.
std::string RedactedUrl(const std::string& url);

class Connection final {
  public:
    // `blocked_notifications` advertises connection.blocked, so the broker tells us when a
    // resource alarm stops it from reading our publishes; only the publisher handles those.
    // options.url may list the nodes of a cluster: they are tried in the process's failover
    // order (node_list.hpp), and the first that accepts us is used.
    static std::expected<Connection, std::string> Open(const ConnectionOptions& options,
                                                       bool blocked_notifications = false);
    Connection(Connection&& other) noexcept;
    Connection& operator=(Connection&& other) noexcept;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();  // drops the socket without a handshake; call Close() for a clean close

    amqp_connection_state_t Get() const { return state_; }
    int Fd() const;
    bool Tls() const { return tls_; }  // amqps://: bytes go through OpenSSL, not the fd

    std::expected<void, std::string> OpenChannel(amqp_channel_t channel);
    // Best effort channel.close (RPC bounded by the RPC timeout).
    void CloseChannel(amqp_channel_t channel);
    // The broker closed a channel or the connection: send the -ok it waits for.
    void AnswerChannelClose(amqp_channel_t channel);
    void AnswerConnectionClose();
    // Clean connection.close when the connection still looks usable, then frees it.
    void Close();
    // Replies of an RPC on `channel`: "" if it succeeded, else the reason; a channel or
    // connection close from the broker is answered here.
    std::string Check(amqp_channel_t channel, const amqp_rpc_reply_t& reply);
    bool Broken() const { return broken_; }
    void MarkBroken() { broken_ = true; }  // a send or read failed: only destroying is left
    // The node this connection reached (one URL of options.url), for logs.
    const std::string& NodeUrl() const;

  private:
    explicit Connection(amqp_connection_state_t state) : state_(state) {}
    static std::expected<Connection, std::string> OpenNode(const ConnectionOptions& options,
                                                           const std::string& url,
                                                           bool blocked_notifications);
    void Release();  // frees the state; a broken connection moves the ring to the next node
    amqp_connection_state_t state_ = nullptr;
    bool broken_ = false;  // socket error or connection.close: no clean close possible
    bool tls_ = false;
    std::shared_ptr<NodeRing> ring_;
    size_t node_ = 0;
};

// Declares `topology` on an open channel (exchanges, queues, bindings, in that order).
// A 406 (queue exists with other arguments) closes the channel: the error names the queue.
// With `check_if_refused`, a 403 (a user without configure permission, SPEC section 11)
// turns into a passive check: success when every exchange and queue exists, else an error
// naming what is missing; the channel is open again on success.
std::expected<void, std::string> DeclareOn(Connection& connection, amqp_channel_t channel,
                                           const Topology& topology, bool check_if_refused = true);

}  // namespace orderflow::broker::impl
