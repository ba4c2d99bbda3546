// Order analytics figures.
#include "handlers/analytics.hpp"

#include <fmt/format.h>

#include "events/ids.hpp"

namespace orderflow::handlers {

double OrderStats::FailureRate() const {
    return total_orders == 0
               ? 0.0
               : static_cast<double>(failed_orders) / static_cast<double>(total_orders);
}

std::string OrderStats::ToJson() const {
    std::string minutes;
    for (const auto& [minute, orders] : orders_per_minute) {
        if (!minutes.empty()) minutes += ",";
        minutes += fmt::format(R"({{"minute":"{}","orders":{}}})", minute, orders);
    }
    return fmt::format(
        R"({{"total_orders":{},"failed_orders":{},"failure_rate":{:.6g},"orders_per_minute":[{}]}})",
        total_orders, failed_orders, FailureRate(), minutes);
}

bool CountEvent(const events::Envelope& envelope, OrderStats& stats) {
    switch (envelope.type) {
        case events::EventType::kOrderPlaced: {
            const auto at = events::ParseTime(envelope.occurred_at);
            if (!at) return false;
            ++stats.total_orders;
            ++stats.orders_per_minute[events::FormatMinute(*at)];
            return true;
        }
        case events::EventType::kInventoryRejected:
            ++stats.failed_orders;
            return true;
        default:
            return false;
    }
}

}  // namespace orderflow::handlers
