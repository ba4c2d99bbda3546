// Fault injection.
#include "service/fault.hpp"

#include <cstdlib>
#include <thread>

namespace orderflow::service {

FaultInjector::FaultInjector(int delay_ms, double fail_rate, uint64_t seed)
    : delay_(delay_ms), fail_rate_(fail_rate), rng_(seed) {}

bool FaultInjector::ShouldFail() {
    if (fail_rate_ <= 0.0) return false;
    if (fail_rate_ >= 1.0) return true;
    std::lock_guard lock(mutex_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < fail_rate_;
}

bool FaultInjector::DelayThenShouldFail() {
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    return ShouldFail();
}

void CrashIfMarked(std::string_view body) {
    static const char* marker = std::getenv("ORDERFLOW_TEST_CRASH_MARKER");
    if (marker != nullptr && *marker != '\0' && body.find(marker) != std::string_view::npos) {
        std::abort();
    }
}

void CrashAfterCommitIfMarked(std::string_view body) {
    static const char* marker = std::getenv("ORDERFLOW_TEST_CRASH_AFTER_COMMIT_MARKER");
    if (marker != nullptr && *marker != '\0' && body.find(marker) != std::string_view::npos) {
        std::abort();
    }
}

}  // namespace orderflow::service
