// Latency histogram with a bounded relative error, in the style of HdrHistogram: values
// (integer microseconds) fall into log-linear buckets, 2^b linear sub-buckets per power of
// two, so memory is fixed (about 21 KiB at b = 7) however many values are recorded and a
// percentile is never further than 2^-(b+1) (0.4% at b = 7) from the exact value.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace orderflow::load {

class Histogram final {
  public:
    // Values from 1 us to 100 s keep the error bound; larger ones are counted in the top
    // bucket (Max() stays exact), negative ones as 0.
    static constexpr int64_t kMaxTrackedUs = 100'000'000;
    static constexpr int kDefaultSubBucketBits = 7;

    explicit Histogram(int sub_bucket_bits = kDefaultSubBucketBits);

    void Record(int64_t value_us);
    void Record(std::chrono::nanoseconds value) { Record((value.count() + 500) / 1000); }
    // Adds every value of `other` (same sub_bucket_bits: a programming error otherwise).
    void Merge(const Histogram& other);
    void Reset();

    uint64_t Count() const { return count_; }
    int64_t Min() const { return count_ == 0 ? 0 : min_; }  // exact
    int64_t Max() const { return count_ == 0 ? 0 : max_; }  // exact
    double Mean() const;                                    // exact (from the exact sum)
    // Nearest-rank percentile (p in [0, 100]): the value of rank ceil(p/100 * count) is
    // reported as the middle of its bucket, clamped to [Min, Max]; rank 1 (p0) and rank
    // count (p100) are the exact Min and Max. 0 when empty.
    int64_t ValueAtPercentile(double percentile) const;
    // The bound on |reported - exact| / exact for a percentile.
    double RelativeError() const;
    int SubBucketBits() const { return sub_bucket_bits_; }

  private:
    size_t IndexOf(int64_t value) const;
    int64_t BucketMiddle(size_t index) const;

    int sub_bucket_bits_;
    std::vector<uint64_t> counts_;
    uint64_t count_ = 0;
    int64_t min_ = 0;
    int64_t max_ = 0;
    int64_t sum_ = 0;
};

}  // namespace orderflow::load
