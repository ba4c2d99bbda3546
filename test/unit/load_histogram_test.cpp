// The load generator's latency histogram against exact answers computed from the raw
// values: percentiles within the stated relative error, exact min/max/mean, merging.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "load/histogram.hpp"

using orderflow::load::Histogram;

namespace {

// Nearest-rank percentile of sorted values: the definition Histogram approximates.
int64_t ExactPercentile(const std::vector<int64_t>& sorted, double percentile) {
    const double exact_rank = percentile / 100.0 * static_cast<double>(sorted.size());
    const auto rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(exact_rank - 1e-9)));
    return sorted[rank - 1];
}

void CheckPercentiles(const Histogram& histogram, std::vector<int64_t> values) {
    std::sort(values.begin(), values.end());
    for (const double percentile :
         {0.0, 0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99, 100.0}) {
        const auto exact = static_cast<double>(ExactPercentile(values, percentile));
        const auto reported = static_cast<double>(histogram.ValueAtPercentile(percentile));
        INFO("percentile " << percentile << " exact " << exact << " reported " << reported);
        CHECK(std::abs(reported - exact) <= exact * histogram.RelativeError());
    }
}

}  // namespace

TEST_CASE("the histogram's stated relative error is below 1%", "[load][histogram]") {
    CHECK(Histogram().RelativeError() < 0.01);
    CHECK(Histogram(6).RelativeError() < 0.01);
}

TEST_CASE("percentiles of 1..100000 us are within the relative error", "[load][histogram]") {
    Histogram histogram;
    std::vector<int64_t> values;
    for (int64_t v = 1; v <= 100'000; ++v) {
        histogram.Record(v);
        values.push_back(v);
    }
    CHECK(histogram.Count() == 100'000);
    CheckPercentiles(histogram, values);
    // Known answers: p50 of 1..N is N/2, p99 is 0.99 N.
    CHECK(std::abs(histogram.ValueAtPercentile(50) - 50'000) <= 50'000 * 0.004);
    CHECK(std::abs(histogram.ValueAtPercentile(99) - 99'000) <= 99'000 * 0.004);
}

TEST_CASE("percentiles of log-uniform values from 1 us to 100 s are within the relative error",
          "[load][histogram]") {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> exponent(0.0, 8.0);  // 10^0 .. 10^8 us
    Histogram histogram;
    std::vector<int64_t> values;
    for (int i = 0; i < 200'000; ++i) {
        const auto value = static_cast<int64_t>(std::pow(10.0, exponent(rng)));
        histogram.Record(value);
        values.push_back(value);
    }
    CheckPercentiles(histogram, values);
}

TEST_CASE("the coarser per-second precision keeps its own error bound", "[load][histogram]") {
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> latency(std::log(20'000.0), 1.0);  // around 20 ms
    Histogram histogram(6);
    std::vector<int64_t> values;
    for (int i = 0; i < 50'000; ++i) {
        const auto value = static_cast<int64_t>(latency(rng)) + 1;
        histogram.Record(value);
        values.push_back(value);
    }
    CheckPercentiles(histogram, values);
}

TEST_CASE("min, max and mean are exact", "[load][histogram]") {
    Histogram histogram;
    for (const int64_t v : {123'457, 987'654'321 / 10, 3, 77'777, 4'999'999}) histogram.Record(v);
    CHECK(histogram.Min() == 3);
    CHECK(histogram.Max() == 98'765'432);
    CHECK(histogram.ValueAtPercentile(0) == 3);
    CHECK(histogram.ValueAtPercentile(100) == 98'765'432);
    CHECK(histogram.Mean() == Approx((123'457.0 + 98'765'432 + 3 + 77'777 + 4'999'999) / 5));
}

TEST_CASE("p0 and p100 are exact even where a bucket's middle is not", "[load][histogram]") {
    Histogram histogram;
    histogram.Record(10'000);  // bucket 9984..10047, middle 10015
    histogram.Record(30'000);  // bucket 29952..30079, middle 30015
    CHECK(histogram.ValueAtPercentile(0) == 10'000);
    CHECK(histogram.ValueAtPercentile(50) == 10'000);  // rank 1 of 2
    CHECK(histogram.ValueAtPercentile(100) == 30'000);
}

TEST_CASE("values below 256 us are counted exactly", "[load][histogram]") {
    Histogram histogram;
    for (int64_t v = 0; v < 256; ++v) histogram.Record(v);
    for (int64_t v = 1; v < 256; ++v) {
        // Rank v+1 of 0..255 is v: ceil(p * 256 / 100) = v + 1.
        CHECK(histogram.ValueAtPercentile(100.0 * static_cast<double>(v + 1) / 256.0) == v);
    }
}

TEST_CASE("durations are recorded in microseconds, rounded", "[load][histogram]") {
    Histogram histogram;
    histogram.Record(std::chrono::nanoseconds(20'000'400));
    histogram.Record(std::chrono::milliseconds(50));
    CHECK(histogram.Min() == 20'000);
    CHECK(histogram.Max() == 50'000);
}

TEST_CASE("an empty histogram reports zeros", "[load][histogram]") {
    const Histogram histogram;
    CHECK(histogram.Count() == 0);
    CHECK(histogram.Min() == 0);
    CHECK(histogram.Max() == 0);
    CHECK(histogram.Mean() == 0.0);
    CHECK(histogram.ValueAtPercentile(99) == 0);
}

TEST_CASE("values above 100 s keep an exact max and clamp the rest", "[load][histogram]") {
    Histogram histogram;
    histogram.Record(1'000);
    histogram.Record(500'000'000);  // 500 s
    histogram.Record(-5);           // a clock step backwards counts as 0
    CHECK(histogram.Max() == 500'000'000);
    CHECK(histogram.Min() == 0);
    CHECK(histogram.ValueAtPercentile(100) == 500'000'000);
    // Rank 2 of 3 is the 1000 us value, reported from its bucket (1000..1003): within the
    // bound, not exact, and untouched by the clamped 500 s value above it.
    CHECK(std::abs(histogram.ValueAtPercentile(60) - 1'000) <= 1'000 * histogram.RelativeError());
    CHECK(histogram.ValueAtPercentile(34) == 1'001);  // the bucket's middle, rank 2 again
    CHECK(histogram.ValueAtPercentile(33) == 0);      // rank 1: the exact min
}

TEST_CASE("merging two histograms equals recording everything in one", "[load][histogram]") {
    std::mt19937_64 rng(3);
    std::uniform_int_distribution<int64_t> low(100, 5'000);
    std::uniform_int_distribution<int64_t> high(1'000'000, 9'000'000);
    Histogram a, b, all;
    std::vector<int64_t> values;
    for (int i = 0; i < 10'000; ++i) {
        const int64_t x = low(rng);
        const int64_t y = high(rng);
        a.Record(x);
        b.Record(y);
        all.Record(x);
        all.Record(y);
        values.push_back(x);
        values.push_back(y);
    }
    Histogram merged;  // empty first: takes min and max from the other
    merged.Merge(a);
    merged.Merge(b);
    CHECK(merged.Count() == all.Count());
    CHECK(merged.Min() == all.Min());
    CHECK(merged.Max() == all.Max());
    CHECK(merged.Mean() == Approx(all.Mean()));
    for (const double percentile : {1.0, 25.0, 49.0, 50.0, 51.0, 90.0, 99.0, 100.0}) {
        CHECK(merged.ValueAtPercentile(percentile) == all.ValueAtPercentile(percentile));
    }
    CheckPercentiles(merged, values);
    merged.Merge(Histogram());  // merging an empty one changes nothing
    CHECK(merged.Count() == all.Count());
    CHECK_THROWS_AS(merged.Merge(Histogram(6)), std::invalid_argument);
}

TEST_CASE("reset empties the histogram", "[load][histogram]") {
    Histogram histogram;
    histogram.Record(42);
    histogram.Reset();
    CHECK(histogram.Count() == 0);
    histogram.Record(7);
    CHECK(histogram.Min() == 7);
    CHECK(histogram.Max() == 7);
}
