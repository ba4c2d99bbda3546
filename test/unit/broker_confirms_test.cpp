// Unit tests (no broker): publisher confirm bookkeeping and batch settlement planning.
#include <catch2/catch.hpp>
#include <map>

#include "broker/impl/confirm_tracker.hpp"
#include "broker/impl/settlement.hpp"

using namespace orderflow::broker;
using impl::Completion;
using impl::ConfirmTracker;

namespace {

// Adds tags first..last whose callbacks record their status in `seen` (and count calls).
void AddRange(ConfirmTracker& tracker, uint64_t first, uint64_t last,
              std::map<uint64_t, std::vector<PublishStatus>>& seen, std::string message_id = "") {
    for (uint64_t tag = first; tag <= last; ++tag) {
        tracker.Add(tag, {[&seen, tag](PublishStatus status) { seen[tag].push_back(status); },
                          message_id.empty() ? "m" + std::to_string(tag) : message_id, "orders",
                          "order.placed"});
    }
}

void Run(std::vector<Completion>& done) {
    for (auto& [callback, status] : done) callback(status);
    done.clear();
}

}  // namespace

TEST_CASE("a multiple ack confirms every tag up to it, once", "[broker][confirms]") {
    ConfirmTracker tracker;
    std::map<uint64_t, std::vector<PublishStatus>> seen;
    AddRange(tracker, 1, 5, seen);
    std::vector<Completion> done;
    tracker.Ack(3, true, done);
    Run(done);
    CHECK(tracker.Size() == 2);
    tracker.Ack(3, true, done);  // a repeat changes nothing
    tracker.Ack(2, false, done);
    CHECK(done.empty());
    tracker.Nack(5, false, done);
    tracker.Ack(4, false, done);
    Run(done);
    CHECK(tracker.Empty());
    for (uint64_t tag = 1; tag <= 5; ++tag) REQUIRE(seen[tag].size() == 1);
    CHECK(seen[1][0] == PublishStatus::kConfirmed);
    CHECK(seen[3][0] == PublishStatus::kConfirmed);
    CHECK(seen[4][0] == PublishStatus::kConfirmed);
    CHECK(seen[5][0] == PublishStatus::kNacked);
}

TEST_CASE("a returned message's later ack reports unroutable", "[broker][confirms]") {
    ConfirmTracker tracker;
    std::map<uint64_t, std::vector<PublishStatus>> seen;
    AddRange(tracker, 1, 3, seen, "same-id");
    CHECK(tracker.MarkReturned("same-id", "orders", "order.placed"));  // the oldest: tag 1
    CHECK(tracker.MarkReturned("same-id", "orders", "order.placed"));  // then tag 2
    CHECK_FALSE(tracker.MarkReturned("other", "orders", "order.placed"));
    std::vector<Completion> done;
    tracker.Ack(3, true, done);
    Run(done);
    CHECK(seen[1] == std::vector{PublishStatus::kUnroutable});
    CHECK(seen[2] == std::vector{PublishStatus::kUnroutable});
    CHECK(seen[3] == std::vector{PublishStatus::kConfirmed});
}

TEST_CASE("failing all resolves what is in flight exactly once", "[broker][confirms]") {
    ConfirmTracker tracker;
    std::map<uint64_t, std::vector<PublishStatus>> seen;
    AddRange(tracker, 1, 4, seen);
    std::vector<Completion> done;
    tracker.Nack(2, true, done);
    tracker.FailAll(PublishStatus::kNotConnected, done);
    tracker.Ack(4, true, done);  // a late ack for a lost channel is ignored
    Run(done);
    CHECK(seen[1] == std::vector{PublishStatus::kNacked});
    CHECK(seen[2] == std::vector{PublishStatus::kNacked});
    CHECK(seen[3] == std::vector{PublishStatus::kNotConnected});
    CHECK(seen[4] == std::vector{PublishStatus::kNotConnected});
}

TEST_CASE("settlement coalesces runs of equal dispositions", "[broker][settle]") {
    using D = Disposition;
    const std::vector<uint64_t> tags{11, 12, 13, 14, 15, 16, 17};
    const std::vector<D> dispositions{D::kAck, D::kAck,    D::kAck,   D::kRequeue,
                                      D::kAck, D::kReject, D::kReject};
    const auto ops = impl::PlanSettlement(tags, dispositions);
    REQUIRE(ops.size() == 4);
    CHECK((ops[0].delivery_tag == 13 && ops[0].multiple && ops[0].disposition == D::kAck));
    CHECK((ops[1].delivery_tag == 14 && !ops[1].multiple && ops[1].disposition == D::kRequeue));
    CHECK((ops[2].delivery_tag == 15 && !ops[2].multiple && ops[2].disposition == D::kAck));
    CHECK((ops[3].delivery_tag == 17 && ops[3].multiple && ops[3].disposition == D::kReject));
}

TEST_CASE("settlement of an all-ack batch is one multiple ack", "[broker][settle]") {
    const std::vector<uint64_t> tags{1, 2, 3, 4};
    const std::vector<Disposition> acks(4, Disposition::kAck);
    const auto ops = impl::PlanSettlement(tags, acks);
    REQUIRE(ops.size() == 1);
    CHECK((ops[0].delivery_tag == 4 && ops[0].multiple));
}

TEST_CASE("settlement never coalesces tags out of order", "[broker][settle]") {
    const std::vector<uint64_t> tags{3, 1, 2};
    const std::vector<Disposition> acks(3, Disposition::kAck);
    const auto ops = impl::PlanSettlement(tags, acks);
    REQUIRE(ops.size() == 3);
    for (const auto& op : ops) CHECK_FALSE(op.multiple);
}
