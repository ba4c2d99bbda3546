// Order timelines read back from the stream; see order_lookup.hpp.
#include "console/order_lookup.hpp"

#include <fmt/format.h>

#include <charconv>

#include "broker/topology.hpp"
#include "console/timeline.hpp"
#include "events/codec.hpp"
#include "events/ids.hpp"

namespace orderflow::console {
namespace {

constexpr uint16_t kCredit = 1000;

}  // namespace

std::optional<int64_t> UuidV7Millis(std::string_view id) {
    if (!events::IsUuid(id) || id[14] != '7') return std::nullopt;
    // The first 48 bits, 8 and 4 hex digits around the first '-', are Unix milliseconds.
    const std::string hex = std::string(id.substr(0, 8)) + std::string(id.substr(9, 4));
    int64_t ms = 0;
    std::from_chars(hex.data(), hex.data() + hex.size(), ms, 16);
    return ms;
}

std::expected<LookupResult, std::string> FindOrderInStream(
    const broker::ConnectionOptions& connection, const std::string& order_id, int64_t now_ms,
    std::optional<int64_t> end_offset, const LookupLimits& limits) {
    LookupResult result;
    const auto placed_ms = UuidV7Millis(order_id);
    if (!placed_ms || *placed_ms > now_ms + 60'000) return result;  // no time, or the future
    const int64_t age_s = (now_ms - *placed_ms) / 1000 + limits.margin_s;
    auto client = broker::Client::Connect(connection);
    if (!client) return std::unexpected(client.error());
    if (auto ok = client->Consume(broker::kEventStream, kCredit,
                                  {{"x-stream-offset", fmt::format("{}s", age_s)}});
        !ok) {
        return std::unexpected(ok.error());
    }
    Timeline timeline;
    const auto deadline = std::chrono::steady_clock::now() + limits.max_time;
    bool complete = false;
    while (result.scanned < limits.max_messages && std::chrono::steady_clock::now() < deadline) {
        auto next = client->Next(limits.quiet);
        if (!next) return std::unexpected(next.error());
        if (!next->has_value()) {
            complete = true;  // quiet: the stream's end
            break;
        }
        const auto& delivery = **next;
        ++result.scanned;
        (void)client->Ack(delivery.delivery_tag);  // credit for the next chunk
        if (delivery.properties.correlation_id == order_id) {
            auto envelope = events::DecodeEnvelope(delivery.body);
            if (envelope && envelope->order_id == order_id) {
                timeline.Add(ToStreamEvent(delivery, *envelope, now_ms));
                if (timeline.Notified()) {
                    complete = true;
                    break;
                }
            }
        }
        const auto offset = delivery.properties.IntHeader("x-stream-offset");
        if (end_offset && offset && *offset >= *end_offset) {
            complete = true;
            break;
        }
    }
    if (timeline.Empty()) return result;
    std::string note = fmt::format(
        "read back from the stream orders.events ({} messages from {} s before the order)",
        result.scanned, limits.margin_s);
    if (!complete) {
        note += fmt::format(
            "; the search stopped after {} messages or {} s, so later stages may be missing",
            result.scanned, limits.max_time.count() / 1000);
    }
    result.json = timeline.Json(order_id, {"stream", std::move(note)});
    return result;
}

}  // namespace orderflow::console
