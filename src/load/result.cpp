// Recording and merging of load measurements; see result.hpp.
#include "load/result.hpp"

#include <algorithm>

namespace orderflow::load {

namespace {

double PerSecond(uint64_t count, std::chrono::nanoseconds elapsed) {
    const double seconds = std::chrono::duration<double>(elapsed).count();
    return seconds > 0 ? static_cast<double>(count) / seconds : 0.0;
}

}  // namespace

double LoadResult::Throughput() const { return PerSecond(Answered(), elapsed); }

double LoadResult::SuccessThroughput() const { return PerSecond(successes, elapsed); }

std::map<int, uint64_t> LoadResult::ErrorStatuses() const {
    std::map<int, uint64_t> statuses;
    for (size_t status = 0; status < by_status.size(); ++status) {
        if (by_status[status] != 0 && (status < 200 || status > 299)) {
            statuses[static_cast<int>(status)] = by_status[status];
        }
    }
    return statuses;
}

SecondStats& LoadResult::Second(size_t second) {
    // A hard cap keeps a runaway clock from allocating without bound.
    second = std::min<size_t>(second, 366 * 86400);
    if (seconds.size() <= second) seconds.resize(second + 1);
    return seconds[second];
}

void LoadResult::RecordAnswer(int status, std::chrono::nanoseconds latency_ns, size_t second) {
    const bool success = status >= 200 && status <= 299;
    ++requests;
    ++by_status[status >= 100 && status < 600 ? static_cast<size_t>(status) : 0];
    latency.Record(latency_ns);
    SecondStats& row = Second(second);
    ++row.requests;
    row.latency.Record(latency_ns);
    if (success) {
        ++successes;
        ++row.successes;
    } else {
        ++row.errors;
        if (status == 503) ++row.unavailable;
    }
}

void LoadResult::RecordFailure(Failure failure, size_t second) {
    ++requests;
    switch (failure) {
        case Failure::kConnect:
            ++connect_errors;
            break;
        case Failure::kTimeout:
            ++timeouts;
            break;
        case Failure::kIo:
            ++io_errors;
            break;
        case Failure::kUnsent:
            ++unsent;
            break;
    }
    SecondStats& row = Second(second);
    ++row.requests;
    ++row.errors;
}

void LoadResult::Merge(const LoadResult& other) {
    latency.Merge(other.latency);
    requests += other.requests;
    successes += other.successes;
    for (size_t i = 0; i < by_status.size(); ++i) by_status[i] += other.by_status[i];
    connect_errors += other.connect_errors;
    timeouts += other.timeouts;
    io_errors += other.io_errors;
    unsent += other.unsent;
    connections_opened += other.connections_opened;
    max_queue = std::max(max_queue, other.max_queue);
    elapsed = std::max(elapsed, other.elapsed);
    if (seconds.size() < other.seconds.size()) seconds.resize(other.seconds.size());
    for (size_t i = 0; i < other.seconds.size(); ++i) {
        seconds[i].requests += other.seconds[i].requests;
        seconds[i].successes += other.seconds[i].successes;
        seconds[i].errors += other.seconds[i].errors;
        seconds[i].unavailable += other.seconds[i].unavailable;
        seconds[i].latency.Merge(other.seconds[i].latency);
    }
}

}  // namespace orderflow::load
