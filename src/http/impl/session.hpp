// Internal: what the listener (server.cpp) and the per-connection sessions (session.cpp)
// share. The Session type stays opaque here so that Beast is included by session.cpp only.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "http/server.hpp"

namespace orderflow::http::impl {

class Session;

// Owned jointly by the listener and every session, so whichever lives longest keeps it.
struct ServerState {
    ServerOptions options;
    Handler handler;
    std::atomic<size_t> live{0};       // sessions holding a connection slot
    std::atomic<bool> stopped{false};  // draining or stopped: no request reaches the handler
    // Requests handed to the handler whose answer is not yet written (or whose connection
    // has not closed): what a graceful stop waits for.
    std::atomic<int> handling{0};
    std::mutex mutex;  // guards `sessions`
    std::unordered_map<const Session*, std::weak_ptr<Session>> sessions;
};

// Takes a connection slot (live + 1), registers the session in `state` and starts reading.
// Must be called on the listener's strand: the connection cap relies on it.
void StartSession(boost::asio::ip::tcp::socket socket, const std::shared_ptr<ServerState>& state);

// Closes the connection from any thread (posted onto the session's strand).
void CloseSession(const std::shared_ptr<Session>& session);
// Closes the connection unless a request of it is in the handler's hands or its answer is
// being written (those close after the answer, as `stopped` asks).
void CloseSessionIfIdle(const std::shared_ptr<Session>& session);

}  // namespace orderflow::http::impl
