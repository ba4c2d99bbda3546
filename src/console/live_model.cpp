// The console's in-memory model of the stream; see live_model.hpp.
#include "console/live_model.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>

#include "console/json_writer.hpp"
#include "events/ids.hpp"

namespace orderflow::console {
namespace {

constexpr double kBucketRatio = 1.05;
constexpr std::array<const char*, 4> kStageKeys{"placed", "reserved", "rejected", "notified"};

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

size_t Index(events::EventType type) { return static_cast<size_t>(type); }

using json::String;
using json::Writer;

}  // namespace

double LiveModel::BucketValue(int bucket) {
    if (bucket <= 0) return 0.5;
    return std::sqrt(std::pow(kBucketRatio, bucket) * std::pow(kBucketRatio, bucket + 1));
}

int LiveModel::BucketOf(double ms) {
    if (ms < 1.0) return 0;
    const int bucket = static_cast<int>(std::log(ms) / std::log(kBucketRatio));
    return std::clamp(bucket, 1, kLatencyBuckets - 1);
}

LiveModel::Slot& LiveModel::SlotFor(int64_t second) {
    auto& slot = slots_[static_cast<size_t>(second % kSeconds)];
    if (slot.second != second) slot = Slot{second, {}, {}};
    return slot;
}

LiveModel::LatencySlot& LiveModel::LatencyFor(int64_t index) {
    auto& slot = latency_[static_cast<size_t>(index % kLatencySlots)];
    if (slot.index != index) {
        slot.index = index;
        slot.count = 0;
        slot.buckets.fill(0);
    }
    return slot;
}

void LiveModel::OnEvent(const StreamEvent& event, int64_t now_ms) {
    std::lock_guard lock(mutex_);
    const size_t type = Index(event.type);
    const int64_t now_s = FloorDiv(now_ms, 1000);
    auto& arrival_slot = arrival_second_[static_cast<size_t>(now_s % (kRateWindow + 1))];
    if (arrival_slot != now_s) {
        arrival_slot = now_s;
        for (auto& by_type : arrivals_) by_type[static_cast<size_t>(now_s % (kRateWindow + 1))] = 0;
    }
    ++arrivals_[type][static_cast<size_t>(now_s % (kRateWindow + 1))];
    switch (event.type) {
        case events::EventType::kOrderPlaced:
            ++totals_.placed;
            break;
        case events::EventType::kInventoryReserved:
            ++totals_.reserved;
            break;
        case events::EventType::kInventoryRejected:
            ++totals_.rejected;
            break;
        case events::EventType::kNotificationSent:
            ++totals_.notified;
            break;
    }
    // Counted by event time, within the window (a late event still lands in its second).
    const int64_t at_s = FloorDiv(event.at_ms, 1000);
    if (at_s > now_s - kSeconds && at_s <= now_s + 5) ++SlotFor(at_s).orders[type];

    if (event.order_id.empty()) return;
    auto [it, inserted] = orders_.try_emplace(event.order_id);
    if (inserted) {
        order_fifo_.push_back(event.order_id);
        while (order_fifo_.size() > kMaxOrders) {
            orders_.erase(order_fifo_.front());
            order_fifo_.pop_front();
        }
    }
    auto& timeline = it->second;
    timeline.Add(event);
    if (event.type != events::EventType::kNotificationSent) return;
    // End-to-end time of this order, in the 10 s slot of its notification.
    const auto placed_ms = timeline.PlacedAt();
    if (!placed_ms) return;
    const int64_t index = FloorDiv(at_s, kLatencyStep);
    if (index <= FloorDiv(now_s, kLatencyStep) - kLatencySlots) return;
    auto& slot = LatencyFor(index);
    ++slot.count;
    ++slot.buckets[static_cast<size_t>(
        BucketOf(static_cast<double>(std::max<int64_t>(0, event.at_ms - *placed_ms))))];
}

void LiveModel::OnDepths(int64_t now_ms, const std::map<std::string, int64_t>& depths) {
    std::lock_guard lock(mutex_);
    SlotFor(FloorDiv(now_ms, 1000)).depth = depths;
}

double LiveModel::ArrivalRate(events::EventType type, int64_t now_ms) const {
    std::lock_guard lock(mutex_);
    const int64_t now_s = FloorDiv(now_ms, 1000);
    int64_t sum = 0;
    for (int64_t s = now_s - kRateWindow; s < now_s; ++s) {
        const auto i =
            static_cast<size_t>((s % (kRateWindow + 1) + kRateWindow + 1) % (kRateWindow + 1));
        if (arrival_second_[i] == s) sum += arrivals_[Index(type)][i];
    }
    return static_cast<double>(sum) / kRateWindow;
}

LiveModel::Totals LiveModel::Seen() const {
    std::lock_guard lock(mutex_);
    return totals_;
}

size_t LiveModel::OrdersKept() const {
    std::lock_guard lock(mutex_);
    return orders_.size();
}

double LiveModel::Percentile(const LatencySlot& slot, double q) {
    const auto rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(slot.count)));
    int64_t seen = 0;
    for (int b = 0; b < kLatencyBuckets; ++b) {
        seen += slot.buckets[static_cast<size_t>(b)];
        if (seen >= std::max<int64_t>(rank, 1)) return BucketValue(b);
    }
    return BucketValue(kLatencyBuckets - 1);
}

std::string LiveModel::SeriesJson(int64_t now_ms) const {
    std::lock_guard lock(mutex_);
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    const int64_t now_s = FloorDiv(now_ms, 1000);
    // The last complete second is the end: the current one is still filling.
    const int64_t first = now_s - kSeconds;
    std::vector<const Slot*> window;
    std::map<std::string, bool> queues;
    for (int64_t s = first; s < now_s; ++s) {
        const auto& slot = slots_[static_cast<size_t>((s % kSeconds + kSeconds) % kSeconds)];
        window.push_back(slot.second == s ? &slot : nullptr);
        if (slot.second == s) {
            for (const auto& [name, depth] : slot.depth) queues[name] = true;
        }
    }
    w.StartObject();
    w.Key("step_s");
    w.Int(1);
    w.Key("end");
    String(w, events::FormatTime(events::FromUnixMillis(now_s * 1000)));
    w.Key("t");
    w.StartArray();
    for (int64_t s = first; s < now_s; ++s) w.Int64(s * 1000);
    w.EndArray();
    w.Key("depth");
    w.StartObject();
    for (const auto& [name, unused] : queues) {
        String(w, name);
        w.StartArray();
        for (const auto* slot : window) {
            const auto it = slot ? slot->depth.find(name) : decltype(slot->depth)::const_iterator{};
            if (slot && it != slot->depth.end()) {
                w.Int64(it->second);
            } else {
                w.Null();  // not sampled (before the start, or the broker was away)
            }
        }
        w.EndArray();
    }
    w.EndObject();
    w.Key("orders");
    w.StartObject();
    for (size_t type = 0; type < kStageKeys.size(); ++type) {
        w.Key(kStageKeys[type]);
        w.StartArray();
        for (const auto* slot : window) w.Int64(slot ? slot->orders[type] : 0);
        w.EndArray();
    }
    w.EndObject();
    w.Key("e2e");
    w.StartObject();
    w.Key("step_s");
    w.Int(kLatencyStep);
    const int64_t last = FloorDiv(now_s, kLatencyStep);  // still filling: not shown
    std::vector<const LatencySlot*> lat;
    for (int64_t i = last - kLatencySlots + 1; i < last; ++i) {
        const auto& slot =
            latency_[static_cast<size_t>((i % kLatencySlots + kLatencySlots) % kLatencySlots)];
        lat.push_back(slot.index == i && slot.count > 0 ? &slot : nullptr);
    }
    w.Key("t");
    w.StartArray();
    for (int64_t i = last - kLatencySlots + 1; i < last; ++i) w.Int64(i * kLatencyStep * 1000);
    w.EndArray();
    w.Key("count");
    w.StartArray();
    for (const auto* slot : lat) w.Int64(slot ? slot->count : 0);
    w.EndArray();
    for (const auto& [key, q] : {std::pair{"p50_ms", 0.50}, {"p95_ms", 0.95}, {"p99_ms", 0.99}}) {
        w.Key(key);
        w.StartArray();
        for (const auto* slot : lat) {
            if (slot) {
                w.Double(std::round(Percentile(*slot, q) * 10) / 10);
            } else {
                w.Null();
            }
        }
        w.EndArray();
    }
    w.EndObject();
    w.EndObject();
    return json::Text(buffer);
}

std::optional<std::string> LiveModel::OrderJson(const std::string& order_id) const {
    std::lock_guard lock(mutex_);
    const auto it = orders_.find(order_id);
    if (it == orders_.end()) return std::nullopt;
    return it->second.Json(order_id, {"memory", {}});
}

}  // namespace orderflow::console
