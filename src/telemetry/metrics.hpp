// Prometheus metrics: counters, gauges and histograms with labels, rendered in the text
// exposition format. Lock-free on the hot path (atomics); registration takes a lock.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace orderflow::telemetry {

using Labels = std::map<std::string, std::string>;

class Counter final {
  public:
    void Inc(double v = 1.0);
    double Value() const;

  private:
    std::atomic<double> value_{0.0};
};

class Gauge final {
  public:
    void Set(double v);
    void Add(double v);
    double Value() const;

  private:
    std::atomic<double> value_{0.0};
};

class Histogram final {
  public:
    explicit Histogram(std::vector<double> upper_bounds);
    void Observe(double v);
    // Cumulative counts per bound (+Inf last), sum and count: for rendering and tests.
    std::vector<uint64_t> CumulativeCounts() const;
    double Sum() const;
    uint64_t Count() const;
    const std::vector<double>& Bounds() const { return bounds_; }

  private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
    std::atomic<double> sum_{0.0};
    std::atomic<uint64_t> count_{0};
};

// Default latency buckets in seconds (0.5 ms .. 30 s).
std::vector<double> LatencyBuckets();

class Registry final {
  public:
    // Out of line: Family is only complete in metrics.cpp.
    Registry();
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // Returns the same instance for the same name + labels. References stay valid.
    Counter& GetCounter(const std::string& name, const std::string& help,
                        const Labels& labels = {});
    Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
    Histogram& GetHistogram(const std::string& name, const std::string& help,
                            const Labels& labels = {},
                            std::vector<double> bounds = LatencyBuckets());
    // Run before each Render (e.g. to sample an outbox depth into a gauge).
    void OnCollect(std::function<void()> callback);
    std::string Render();

  private:
    struct Family;
    std::mutex mutex_;
    std::map<std::string, std::unique_ptr<Family>> families_;
    std::vector<std::function<void()>> collectors_;
};

}  // namespace orderflow::telemetry
