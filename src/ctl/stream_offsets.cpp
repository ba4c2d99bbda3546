// Reading a stream's offsets; see stream_offsets.hpp.
#include "ctl/stream_offsets.hpp"

#include <algorithm>

namespace orderflow::ctl {
namespace {

constexpr uint16_t kCredit = 500;
constexpr auto kBudget = std::chrono::seconds(3);
constexpr auto kFirstDelivery = std::chrono::milliseconds(1500);

// The highest offset delivered from `from` (only the first one with `first_only`).
std::expected<std::optional<int64_t>, std::string> HighestOffset(
    const broker::ConnectionOptions& connection, const broker::QueueName& stream, const char* from,
    bool first_only, std::chrono::milliseconds quiet) {
    auto client = broker::Client::Connect(connection);
    if (!client) return std::unexpected(client.error());
    if (auto ok = client->Consume(stream, kCredit, {{"x-stream-offset", from}}); !ok) {
        return std::unexpected(ok.error());
    }
    std::optional<int64_t> highest;
    const auto deadline = std::chrono::steady_clock::now() + kBudget;
    while (std::chrono::steady_clock::now() < deadline) {
        // The broker takes a moment to start a stream reader (longer on a busy node): the
        // first delivery gets more time than the quiet spell that ends the read.
        auto next = client->Next(highest ? quiet : kFirstDelivery);
        if (!next) return std::unexpected(next.error());
        if (!next->has_value()) break;  // quiet: the end of the stream as it is now
        const auto& delivery = **next;
        (void)client->Ack(delivery.delivery_tag);  // credit for the next chunk
        if (const auto offset = delivery.properties.IntHeader("x-stream-offset")) {
            highest = std::max(highest.value_or(*offset), *offset);
            if (first_only) break;
        }
    }
    return highest;
}

}  // namespace

std::expected<StreamOffsets, std::string> ReadStreamOffsets(
    const broker::ConnectionOptions& connection, const broker::QueueName& stream,
    std::chrono::milliseconds quiet) {
    auto first = HighestOffset(connection, stream, "first", true, quiet);
    if (!first) return std::unexpected(first.error());
    if (!*first) return StreamOffsets{};
    auto last = HighestOffset(connection, stream, "last", false, quiet);
    if (!last) return std::unexpected(last.error());
    // A stream written meanwhile only moves its last offset forward.
    return StreamOffsets{*first, std::max(**first, last->value_or(**first))};
}

}  // namespace orderflow::ctl
