// Publish and deliver rates of a queue from the management API's cumulative counters.
//
// The broker emits queue statistics every 5 s by default (collect_statistics_interval), so
// counters read once a second move in steps: dividing each step by the second between two
// reads would show 0, 0, 0, 0, 5x. So the rate is measured between the moments the counters
// were seen to change (the emission moments, give or take one read interval) over a window
// of about 20 s. Until two changes have been seen the broker's own *_details.rate is used;
// counters that stopped moving for longer than kStaleAfter mean nothing flowed. Pure: the
// time is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

namespace orderflow::ctl {

struct Counters {
    int64_t publish = 0;  // message_stats.publish: messages that entered the queue
    int64_t deliver = 0;  // message_stats.deliver_get: deliveries to consumers and gets
    bool operator==(const Counters&) const = default;
};

struct Rates {
    double publish = 0;  // messages/s in
    double deliver = 0;  // messages/s out
};

class RateTracker final {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;
    static constexpr std::chrono::seconds kWindow{20};
    // Two default emission intervals and some: no change for this long is no traffic.
    static constexpr std::chrono::seconds kStaleAfter{12};

    Rates Update(TimePoint now, const Counters& counters, const Rates& broker_rates);

  private:
    struct Change {
        TimePoint at;
        Counters counters;
    };
    std::optional<Counters> last_;  // the first reading is not a change moment
    std::deque<Change> changes_;
};

// The net change per second of a queue's depth over the last kWindow of exact samples
// (passive declares, taken by --watch at each interval): negative while a backlog drains,
// positive while it fills. Unlike the management counters it has no emission lag, so it is
// what the time to drain is estimated from while the queue holds ready messages. Pure.
class DepthTrend final {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;
    static constexpr std::chrono::seconds kWindow{5};

    // nullopt until two samples are known.
    std::optional<double> Update(TimePoint now, int64_t depth);

  private:
    struct Sample {
        TimePoint at;
        int64_t depth;
    };
    std::deque<Sample> samples_;
};

// Seconds until the backlog is gone at the current net drain rate; nullopt when it is not
// draining (nothing consumed, or more coming in than going out).
std::optional<double> EtaSeconds(int64_t backlog, const Rates& rates);

}  // namespace orderflow::ctl
