// Internal: reconnect delays, exponential with jitter so that many clients do not return
// in lockstep after a broker restart. The seed is injected so tests are deterministic.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace orderflow::broker::impl {

class Backoff final {
  public:
    Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, uint64_t seed)
        : min_(std::max<int64_t>(1, min.count())),
          max_(std::max<int64_t>(min_, max.count())),
          rng_(seed) {}

    // "Equal jitter": a uniform delay in [d/2, d] where d doubles from min up to max.
    std::chrono::milliseconds Next() {
        const int64_t ceiling = std::min<int64_t>(max_, min_ << std::min(attempt_, 20));
        ++attempt_;
        std::uniform_int_distribution<int64_t> spread(ceiling / 2, ceiling);
        return std::chrono::milliseconds(std::max<int64_t>(1, spread(rng_)));
    }
    void Reset() { attempt_ = 0; }

  private:
    int64_t min_;
    int64_t max_;
    int attempt_ = 0;
    std::mt19937_64 rng_;
};

}  // namespace orderflow::broker::impl
