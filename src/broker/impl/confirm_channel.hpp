// Internal: the publisher thread's side of the wire: one connection whose channel 1 is in
// confirm mode, publishing with mandatory, and reading basic.ack/nack/return and closes
// from the broker. Not thread-safe: owned by the publisher thread.
#pragma once

#include <amqp.h>

#include <chrono>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/impl/confirm_tracker.hpp"
#include "broker/impl/connection.hpp"
#include "broker/impl/wakeup.hpp"

namespace orderflow::broker::impl {

class ConfirmChannel final {
  public:
    // Connects, declares `topology` (if not empty) and selects confirm mode.
    static std::expected<std::unique_ptr<ConfirmChannel>, std::string> Open(
        const ConnectionOptions& options, const Topology& topology);
    ~ConfirmChannel();
    ConfirmChannel(const ConfirmChannel&) = delete;
    ConfirmChannel& operator=(const ConfirmChannel&) = delete;

    // A batch: BeginBatch(count), Publish() each message, Flush(). On plain TCP Publish()
    // encodes the frames and Flush() writes the whole batch with one send(); over TLS
    // rabbitmq-c writes them through OpenSSL, and a batch of several is corked until
    // Flush() so that it leaves in full segments.
    void BeginBatch(size_t count);
    // On an error the connection is unusable and the callback was not taken (the caller
    // still owns it).
    std::expected<void, std::string> Publish(const OutgoingMessage& message,
                                             PublishCallback& callback);
    // Ends the batch. On an error the connection is unusable; the messages stay in flight
    // for FailAll().
    std::expected<void, std::string> Flush();
    size_t InFlight() const { return tracker_.Size(); }

    struct ReadResult {
        bool received = false;
        std::optional<std::string> lost;  // the connection is gone: why
        std::optional<bool> blocked;      // connection.blocked / unblocked arrived
    };
    // Reads the frames that are ready, without waiting; resolved messages go to `done`.
    ReadResult Read(std::vector<Completion>& done);
    // Waits up to `timeout` for the socket or `wakeup` to become readable.
    void Wait(Wakeup& wakeup, std::chrono::milliseconds timeout);
    void FailAll(PublishStatus status, std::vector<Completion>& done) {
        tracker_.FailAll(status, done);
    }
    int Fd() const { return connection_.Fd(); }
    void Close();  // channel.close and connection.close, as far as the socket allows

  private:
    explicit ConfirmChannel(Connection connection);
    std::expected<void, std::string> SelectConfirms();
    // Appends the frames of `message` to out_ (nothing, on an error).
    std::expected<void, std::string> Encode(const OutgoingMessage& message,
                                            amqp_basic_properties_t& properties);
    // False (with the reason in `result`) when the connection is gone.
    bool HandleMethod(const amqp_frame_t& frame, std::vector<Completion>& done, ReadResult& result);
    bool HandleReturn(const amqp_frame_t& frame, ReadResult& result);

    Connection connection_;
    ConfirmTracker tracker_;
    uint64_t next_tag_ = 1;  // delivery tags count from 1 on each channel
    amqp_pool_t pool_;
    std::string out_;                     // encoded frames not yet written
    bool corked_ = false;                 // TLS: TCP_CORK set by BeginBatch()
    std::vector<unsigned char> scratch_;  // one frame's payload while it is encoded
};

}  // namespace orderflow::broker::impl
