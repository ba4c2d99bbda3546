// The first and last offsets of a stream, read from the stream itself: RabbitMQ 3.10 keeps a
// stream's message count in the management API (and in a passive declare) only as fresh as
// its last periodic refresh, while the offsets a consumer is given are exact. Two short
// subscriptions: from "first" (one message) and from "last" (the last chunk, read until the
// stream is quiet for `quiet`, or for 3 s at most while it is being written). The first
// delivery may take up to 1.5 s to come (an empty stream costs that long).
//
// Threading: opens and closes its own connections; callable from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>

#include "broker/client.hpp"
#include "broker/message.hpp"

namespace orderflow::ctl {

struct StreamOffsets {
    std::optional<int64_t> first;  // nullopt: the stream holds nothing
    std::optional<int64_t> last;
};
std::expected<StreamOffsets, std::string> ReadStreamOffsets(
    const broker::ConnectionOptions& connection, const broker::QueueName& stream,
    std::chrono::milliseconds quiet = std::chrono::milliseconds(150));

}  // namespace orderflow::ctl
