// Queue rates from management counters; see rates.hpp.
#include "ctl/rates.hpp"

namespace orderflow::ctl {

Rates RateTracker::Update(TimePoint now, const Counters& counters, const Rates& broker_rates) {
    if (last_ && (counters.publish < last_->publish || counters.deliver < last_->deliver)) {
        // Counters went backwards: the queue was deleted and declared again. Start over.
        last_.reset();
        changes_.clear();
    }
    if (!last_) {
        last_ = counters;
        return broker_rates;
    }
    if (counters != *last_) {
        changes_.push_back({now, counters});
        last_ = counters;
    }
    while (changes_.size() > 2 && now - changes_.front().at > kWindow) changes_.pop_front();
    if (!changes_.empty() && now - changes_.back().at > kStaleAfter) return {};
    if (changes_.size() < 2) return broker_rates;
    const auto& first = changes_.front();
    const auto& last = changes_.back();
    const double span = std::chrono::duration<double>(last.at - first.at).count();
    if (span <= 0) return broker_rates;
    return {static_cast<double>(last.counters.publish - first.counters.publish) / span,
            static_cast<double>(last.counters.deliver - first.counters.deliver) / span};
}

std::optional<double> DepthTrend::Update(TimePoint now, int64_t depth) {
    samples_.push_back({now, depth});
    while (samples_.size() > 2 && now - samples_.front().at > kWindow) samples_.pop_front();
    const auto& first = samples_.front();
    const double span = std::chrono::duration<double>(now - first.at).count();
    if (samples_.size() < 2 || span <= 0) return std::nullopt;
    return static_cast<double>(depth - first.depth) / span;
}

std::optional<double> EtaSeconds(int64_t backlog, const Rates& rates) {
    if (backlog <= 0) return 0.0;
    const double net = rates.deliver - rates.publish;
    if (net <= 1e-9) return std::nullopt;
    return static_cast<double>(backlog) / net;
}

}  // namespace orderflow::ctl
