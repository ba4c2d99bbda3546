// Internal: turns a handled batch's dispositions into as few basic.ack / basic.nack frames
// as is safe. Pure logic, unit-tested without a broker.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "broker/consumer.hpp"

namespace orderflow::broker::impl {

struct SettleOp {
    uint64_t delivery_tag = 0;
    bool multiple = false;
    Disposition disposition = Disposition::kAck;
};

// `tags` must be ALL unsettled deliveries of the channel up to the highest of them,
// ascending, with `dispositions` of the same length (deliveries with higher tags may be
// outstanding: a prefetch larger than the batch). Walking in order, everything before a run
// is already settled when the run is sent, so a run of equal dispositions becomes one frame
// with multiple=true at its last tag: it settles exactly that run, as a multiple ack never
// reaches above its tag. Out-of-order tags are settled one by one.
std::vector<SettleOp> PlanSettlement(std::span<const uint64_t> tags,
                                     std::span<const Disposition> dispositions);

}  // namespace orderflow::broker::impl
