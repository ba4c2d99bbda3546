// Batch settlement planning; see settlement.hpp.
#include "broker/impl/settlement.hpp"

#include <algorithm>

namespace orderflow::broker::impl {

std::vector<SettleOp> PlanSettlement(std::span<const uint64_t> tags,
                                     std::span<const Disposition> dispositions) {
    std::vector<SettleOp> ops;
    const size_t count = std::min(tags.size(), dispositions.size());
    const bool ascending =
        std::is_sorted(tags.begin(), tags.begin() + static_cast<long>(count)) &&
        std::adjacent_find(tags.begin(), tags.begin() + static_cast<long>(count)) ==
            tags.begin() + static_cast<long>(count);
    size_t i = 0;
    while (i < count) {
        size_t end = i + 1;
        if (ascending) {
            while (end < count && dispositions[end] == dispositions[i]) ++end;
        }
        ops.push_back({tags[end - 1], end - i > 1, dispositions[i]});
        i = end;
    }
    return ops;
}

}  // namespace orderflow::broker::impl
