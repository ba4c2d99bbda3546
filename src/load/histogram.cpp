// Log-linear bucket arithmetic of Histogram; see histogram.hpp.
//
// With S = 2^b sub-buckets, a value v below 2S has a bucket of its own (exact). Above, with
// e = floor(log2 v) - b, v lies in [S*2^e, 2S*2^e) and the bucket is v >> e, so each bucket
// spans 2^e values starting at no less than S*2^e: a relative width of at most 1/S, and
// the middle of the bucket is within 1/(2S) of any value in it.
#include "load/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

namespace orderflow::load {

Histogram::Histogram(int sub_bucket_bits) : sub_bucket_bits_(sub_bucket_bits) {
    if (sub_bucket_bits < 1 || sub_bucket_bits > 16) {
        throw std::invalid_argument("Histogram: sub_bucket_bits must be 1..16");
    }
    counts_.assign(IndexOf(kMaxTrackedUs) + 1, 0);
}

size_t Histogram::IndexOf(int64_t value) const {
    const auto v = static_cast<uint64_t>(std::clamp<int64_t>(value, 0, kMaxTrackedUs));
    const int log2 = v == 0 ? 0 : std::bit_width(v) - 1;
    const int shift = std::max(0, log2 - sub_bucket_bits_);
    return (static_cast<size_t>(shift) << sub_bucket_bits_) + static_cast<size_t>(v >> shift);
}

int64_t Histogram::BucketMiddle(size_t index) const {
    const size_t sub_buckets = size_t{1} << sub_bucket_bits_;
    if (index < 2 * sub_buckets) return static_cast<int64_t>(index);
    const size_t shift = index / sub_buckets - 1;
    const size_t sub = index - shift * sub_buckets;
    const int64_t lower = static_cast<int64_t>(sub << shift);
    const int64_t width = int64_t{1} << shift;
    return lower + (width - 1) / 2;
}

void Histogram::Record(int64_t value_us) {
    value_us = std::max<int64_t>(value_us, 0);
    ++counts_[IndexOf(value_us)];
    if (count_ == 0) {
        min_ = max_ = value_us;
    } else {
        min_ = std::min(min_, value_us);
        max_ = std::max(max_, value_us);
    }
    ++count_;
    sum_ += value_us;
}

void Histogram::Merge(const Histogram& other) {
    if (other.sub_bucket_bits_ != sub_bucket_bits_) {
        throw std::invalid_argument("Histogram::Merge: different precisions");
    }
    if (other.count_ == 0) return;
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    if (count_ == 0) {
        min_ = other.min_;
        max_ = other.max_;
    } else {
        min_ = std::min(min_, other.min_);
        max_ = std::max(max_, other.max_);
    }
    count_ += other.count_;
    sum_ += other.sum_;
}

void Histogram::Reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    count_ = 0;
    min_ = max_ = sum_ = 0;
}

double Histogram::Mean() const {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
}

int64_t Histogram::ValueAtPercentile(double percentile) const {
    if (count_ == 0) return 0;
    percentile = std::clamp(percentile, 0.0, 100.0);
    // The small epsilon keeps 95% of 100 at rank 95 despite binary floating point.
    const double exact_rank = percentile / 100.0 * static_cast<double>(count_);
    const uint64_t rank =
        std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(exact_rank - 1e-9)));
    // The lowest and highest ranks are the exact min and max: a bucket's middle may lie
    // above the min it holds, and values above kMaxTrackedUs share the top bucket.
    if (rank <= 1) return min_;
    if (rank >= count_) return max_;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::clamp(BucketMiddle(i), min_, max_);
    }
    return max_;
}

double Histogram::RelativeError() const {
    return 1.0 / static_cast<double>(size_t{2} << sub_bucket_bits_);
}

}  // namespace orderflow::load
