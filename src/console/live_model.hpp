// What the console knows from the event stream, kept in memory and bounded: orders per
// second by stage over the last 15 minutes, end-to-end times (OrderPlaced to
// NotificationSent) per 10 s, the arrival rate per routing key, the timelines of the most
// recent orders, and the depth of each work queue per second (fed by the broker sampler).
//
// Memory: 900 one-second slots, 90 ten-second latency histograms of kLatencyBuckets
// counters, and at most kMaxOrders timelines (oldest evicted first): a few MiB in all. An
// older order's timeline is read from the stream on demand (order_lookup.hpp).
//
// Threading: every method locks; the stream consumer's thread calls OnEvent, the sampler
// thread OnDepths, the HTTP threads the *Json readers. Time is passed in (milliseconds
// since the epoch), so the model is unit-tested without a clock.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "console/timeline.hpp"
#include "events/events.hpp"

namespace orderflow::console {

class LiveModel final {
  public:
    static constexpr int kSeconds = 900;     // 15 minutes of one-second slots
    static constexpr int kLatencyStep = 10;  // seconds per end-to-end slot
    static constexpr int kLatencySlots = kSeconds / kLatencyStep;
    static constexpr int kLatencyBuckets = 400;  // log buckets of 5 %: 1 ms .. days
    static constexpr size_t kMaxOrders = 20000;
    static constexpr int kRateWindow = 5;  // seconds of arrivals behind a rate

    void OnEvent(const StreamEvent& event, int64_t now_ms);
    void OnDepths(int64_t now_ms, const std::map<std::string, int64_t>& depths);

    // Messages per second that arrived on the stream with this event type (last kRateWindow s).
    double ArrivalRate(events::EventType type, int64_t now_ms) const;
    struct Totals {
        int64_t placed = 0, reserved = 0, rejected = 0, notified = 0;
    };
    Totals Seen() const;
    // {"step_s":1,"end":<ms>,"t":[...],"depth":{queue:[...]},"orders":{"placed":[...],...},
    //  "e2e":{"step_s":10,"t":[...],"count":[...],"p50":[...],"p95":[...],"p99":[...]}}
    std::string SeriesJson(int64_t now_ms) const;
    // The order's timeline, or nullopt when it is not (or no longer) in memory.
    std::optional<std::string> OrderJson(const std::string& order_id) const;
    size_t OrdersKept() const;

    // The value a latency bucket stands for (its geometric middle), and the bucket of a value.
    static double BucketValue(int bucket);
    static int BucketOf(double ms);

  private:
    struct Slot {
        int64_t second = -1;
        std::array<int64_t, 4> orders{};  // by EventType
        std::map<std::string, int64_t> depth;
    };
    struct LatencySlot {
        int64_t index = -1;  // second / kLatencyStep
        int64_t count = 0;
        std::array<uint32_t, kLatencyBuckets> buckets{};
    };
    Slot& SlotFor(int64_t second);
    LatencySlot& LatencyFor(int64_t index);
    static double Percentile(const LatencySlot& slot, double q);

    mutable std::mutex mutex_;
    std::array<Slot, kSeconds> slots_{};
    std::array<LatencySlot, kLatencySlots> latency_{};
    std::array<std::array<int64_t, kRateWindow + 1>, 4> arrivals_{};  // by type, by second
    std::array<int64_t, kRateWindow + 1> arrival_second_{};
    Totals totals_;
    std::unordered_map<std::string, Timeline> orders_;
    std::deque<std::string> order_fifo_;
};

}  // namespace orderflow::console
