// RAII rabbitmq-c connection; see connection.hpp.
#include "broker/impl/connection.hpp"

#include <amqp.h>  // before amqp_framing.h, which needs it first
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <fmt/format.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "broker/impl/amqp_util.hpp"

namespace orderflow::broker::impl {
namespace {

// Bounds every synchronous RPC (declare, qos, close...). Quorum queue declares can take a
// few seconds while a leader is elected; a broker that does not answer in this time is
// treated as gone.
constexpr std::chrono::seconds kRpcTimeout{30};

// Why a TCP connection to host:port fails ("Connection refused", "No route to host"...),
// found by trying one: rabbitmq-c's non-blocking open reports only "a socket error
// occurred" and leaves errno at EINPROGRESS. Empty when the probe connects (the failure
// was elsewhere) or cannot tell.
std::string ConnectFailureReason(const std::string& host, int port,
                                 std::chrono::milliseconds limit) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const auto service = std::to_string(port);
    if (const int error = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
        error != 0) {
        return ::gai_strerror(error);
    }
    std::string reason;
    for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
        const int fd =
            ::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                     address->ai_protocol);
        if (fd < 0) continue;
        int error = 0;
        if (::connect(fd, address->ai_addr, address->ai_addrlen) != 0) {
            error = errno;
            if (error == EINPROGRESS) {
                pollfd waiting{fd, POLLOUT, 0};
                if (::poll(&waiting, 1, static_cast<int>(limit.count())) == 1) {
                    socklen_t size = sizeof error;
                    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
                } else {
                    error = ETIMEDOUT;
                }
            }
        }
        ::close(fd);
        if (error == 0) {
            reason.clear();
            break;
        }
        reason = std::strerror(error);
    }
    ::freeaddrinfo(found);
    return reason;
}

}  // namespace

std::expected<ParsedUrl, std::string> ParseUrl(const std::string& url) {
    std::string copy = url.substr(0, url.find('?'));  // amqp_parse_url writes into its input
    amqp_connection_info info{};
    amqp_default_connection_info(&info);
    if (const int status = amqp_parse_url(copy.data(), &info); status != AMQP_STATUS_OK) {
        return std::unexpected(
            fmt::format("bad broker URL '{}': {}", RedactedUrl(url), StatusText(status)));
    }
    ParsedUrl out;
    out.host = info.host;
    out.port = info.port;
    out.user = info.user;
    out.password = info.password;
    out.vhost = info.vhost;
    out.tls = info.ssl != 0;
    return out;
}

std::string RedactedUrl(const std::string& url) {
    const auto scheme = url.find("://");
    const auto at = url.find('@');
    if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
    const auto colon = url.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return url;
    return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::expected<Connection, std::string> Connection::Open(const ConnectionOptions& options,
                                                        bool blocked_notifications) {
    auto ring = RingFor(options.url);
    std::string errors;
    for (const size_t index : ring->Candidates()) {
        auto connection = OpenNode(options, ring->Url(index), blocked_notifications);
        if (connection) {
            ring->Connected(index);
            connection->ring_ = ring;
            connection->node_ = index;
            return connection;
        }
        if (ring->Size() == 1) return connection;
        errors += fmt::format("{}{}", errors.empty() ? "" : "; ", connection.error());
    }
    return std::unexpected(
        fmt::format("no node of the cluster accepted the connection: {}", errors));
}

const std::string& Connection::NodeUrl() const {
    static const std::string kNone;
    return ring_ ? ring_->Url(node_) : kNone;
}

std::expected<Connection, std::string> Connection::OpenNode(const ConnectionOptions& options,
                                                            const std::string& node_url,
                                                            bool blocked_notifications) {
    auto url = ParseUrl(node_url);
    if (!url) return std::unexpected(url.error());
    amqp_connection_state_t state = amqp_new_connection();
    if (state == nullptr) return std::unexpected("out of memory creating a connection");
    Connection connection(state);
    connection.tls_ = url->tls;
    const auto where = fmt::format("{}:{}", url->host, url->port);

    amqp_socket_t* socket = url->tls ? amqp_ssl_socket_new(state) : amqp_tcp_socket_new(state);
    if (socket == nullptr) return std::unexpected("cannot create a socket for " + where);
    if (url->tls) {
        amqp_ssl_socket_set_verify_peer(socket, 1);
        amqp_ssl_socket_set_verify_hostname(socket, 1);
        if (!options.tls_ca_file.empty()) {
            if (const int status = amqp_ssl_socket_set_cacert(socket, options.tls_ca_file.c_str());
                status != AMQP_STATUS_OK) {
                return std::unexpected(fmt::format("cannot load CA file {}: {}",
                                                   options.tls_ca_file, StatusText(status)));
            }
        } else {
            // rabbitmq-c 0.11 loads no trust store by itself.
            auto* context = static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket));
            if (context == nullptr || SSL_CTX_set_default_verify_paths(context) != 1) {
                return std::unexpected("cannot load the system trust store for " + where);
            }
        }
    }
    timeval connect_timeout = ToTimeval(options.connect_timeout);
    if (const int status =
            amqp_socket_open_noblock(socket, url->host.c_str(), url->port, &connect_timeout);
        status != AMQP_STATUS_OK) {
        std::string detail;
        if (status == AMQP_STATUS_SSL_PEER_VERIFY_FAILED) {
            detail = fmt::format(
                ": the broker's certificate is not signed by a CA in {} (ORDERFLOW_AMQP_CA_FILE)",
                options.tls_ca_file.empty() ? "the system trust store" : options.tls_ca_file);
        } else if (status == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED) {
            detail = fmt::format(
                ": the broker's certificate does not name host name '{}': use a name it "
                "carries in the URL",
                url->host);
        } else if (status == AMQP_STATUS_SSL_CONNECTION_FAILED || status == AMQP_STATUS_SSL_ERROR) {
            detail = ": the TLS handshake failed (is this port an amqps listener?)";
        } else if (status == AMQP_STATUS_SOCKET_ERROR) {
            // Bounded: a refusal answers at once; this must not double a reconnect attempt.
            const auto limit = std::min(options.connect_timeout, std::chrono::milliseconds(1000));
            if (auto reason = ConnectFailureReason(url->host, url->port, limit); !reason.empty()) {
                detail = ": " + reason;
            }
        }
        return std::unexpected(
            fmt::format("cannot connect to {}: {}{}", where, StatusText(status), detail));
    }
    amqp_set_handshake_timeout(state, &connect_timeout);
    timeval rpc_timeout = ToTimeval(kRpcTimeout);
    amqp_set_rpc_timeout(state, &rpc_timeout);

    // connection_name shows in the management UI; consumer_cancel_notify lets the broker
    // tell a consumer that its queue was deleted instead of leaving it silently idle.
    // rabbitmq-c merges these capabilities with its own defaults.
    std::vector<amqp_table_entry_t> capabilities;
    auto flag = [](const char* key) {
        amqp_table_entry_t entry{};
        entry.key = amqp_cstring_bytes(key);
        entry.value.kind = AMQP_FIELD_KIND_BOOLEAN;
        entry.value.value.boolean = 1;
        return entry;
    };
    capabilities.push_back(flag("consumer_cancel_notify"));
    capabilities.push_back(flag("publisher_confirms"));
    capabilities.push_back(flag("basic.nack"));
    if (blocked_notifications) capabilities.push_back(flag("connection.blocked"));
    amqp_table_entry_t entries[2]{};
    entries[0].key = amqp_cstring_bytes("capabilities");
    entries[0].value.kind = AMQP_FIELD_KIND_TABLE;
    entries[0].value.value.table = {static_cast<int>(capabilities.size()), capabilities.data()};
    entries[1].key = amqp_cstring_bytes("connection_name");
    entries[1].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[1].value.value.bytes = Bytes(options.connection_name);
    const amqp_table_t properties{options.connection_name.empty() ? 1 : 2, entries};

    const auto heartbeat = static_cast<int>(options.heartbeat.count());
    const auto reply = amqp_login_with_properties(
        state, url->vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat, &properties,
        AMQP_SASL_METHOD_PLAIN, url->user.c_str(), url->password.c_str());
    if (!IsOk(reply)) {
        return std::unexpected(fmt::format("cannot log in to {} vhost '{}' as '{}': {}", where,
                                           url->vhost, url->user, ReplyText(reply)));
    }
    return connection;
}

Connection::Connection(Connection&& other) noexcept
    : state_(std::exchange(other.state_, nullptr)),
      broken_(other.broken_),
      tls_(other.tls_),
      ring_(std::move(other.ring_)),
      node_(other.node_) {}

Connection& Connection::operator=(Connection&& other) noexcept {
    if (this != &other) {
        Release();
        state_ = std::exchange(other.state_, nullptr);
        broken_ = other.broken_;
        tls_ = other.tls_;
        ring_ = std::move(other.ring_);
        node_ = other.node_;
    }
    return *this;
}

Connection::~Connection() { Release(); }

void Connection::Release() {
    if (state_ == nullptr) return;
    amqp_destroy_connection(state_);
    state_ = nullptr;
    // Lost (socket error, heartbeat timeout, closed by the broker): the next connection of
    // this process starts with the next node rather than wait on this one again.
    if (broken_ && ring_) ring_->Lost(node_);
}

int Connection::Fd() const { return state_ == nullptr ? -1 : amqp_get_sockfd(state_); }

std::expected<void, std::string> Connection::OpenChannel(amqp_channel_t channel) {
    amqp_channel_open(state_, channel);
    if (auto error = Check(channel, amqp_get_rpc_reply(state_)); !error.empty()) {
        return std::unexpected(fmt::format("cannot open channel {}: {}", channel, error));
    }
    return {};
}

void Connection::CloseChannel(amqp_channel_t channel) {
    if (state_ == nullptr || broken_) return;
    Check(channel, amqp_channel_close(state_, channel, AMQP_REPLY_SUCCESS));
}

void Connection::AnswerChannelClose(amqp_channel_t channel) {
    amqp_channel_close_ok_t ok{};
    if (amqp_send_method(state_, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) != AMQP_STATUS_OK) {
        broken_ = true;
    }
}

void Connection::AnswerConnectionClose() {
    amqp_connection_close_ok_t ok{};
    amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    broken_ = true;
}

void Connection::Close() {
    if (state_ == nullptr) return;
    if (!broken_) amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    Release();
}

std::string Connection::Check(amqp_channel_t channel, const amqp_rpc_reply_t& reply) {
    if (IsOk(reply)) return {};
    if (IsChannelClose(reply)) {
        AnswerChannelClose(channel);
    } else if (IsConnectionClose(reply)) {
        AnswerConnectionClose();
    } else {
        broken_ = true;  // socket error, timeout (rabbitmq-c closes the socket), bad data
    }
    return ReplyText(reply);
}

}  // namespace orderflow::broker::impl
