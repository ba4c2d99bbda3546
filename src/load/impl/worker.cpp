// Scheduling and recording of one load worker; see worker.hpp.
#include "load/impl/worker.hpp"

#include <algorithm>
#include <cmath>
#include <thread>

namespace orderflow::load::impl {

namespace asio = boost::asio;

namespace {

// A closed-loop client whose connect failed waits this long before trying again, so a
// target that is down is not hammered at the speed of ECONNREFUSED.
constexpr std::chrono::milliseconds kConnectRetryDelay{50};
// How often the stop flag is looked at.
constexpr std::chrono::milliseconds kControlInterval{100};

}  // namespace

Worker::Worker(const Target& target, WorkerPlan plan) : target_(target), plan_(plan) {}

void Worker::Run() {
    std::this_thread::sleep_until(plan_.start);  // all workers begin together
    if (plan_.mode == LoopMode::kClosed) {
        for (size_t slot = 0; slot < plan_.connections; ++slot) {
            connections_.push_back(std::make_unique<Connection>(io_, target_, *this, slot));
            retry_timers_.push_back(std::make_unique<asio::steady_timer>(io_));
        }
        live_slots_ = connections_.size();
        for (size_t slot = 0; slot < connections_.size(); ++slot) IssueNext(slot);
    } else {
        connections_.reserve(plan_.connections);
        next_due_ = plan_.start + plan_.offset;
        ScheduleTick();
    }
    WatchControl();
    io_.run();

    for (const auto& connection : connections_) {
        connection->Close();
        result_.connections_opened += connection->ConnectsStarted();
    }
    const Clock::time_point end = std::max(stopped_at_, last_done_);
    if (end > plan_.measure_start) result_.elapsed = end - plan_.measure_start;
}

void Worker::OnComplete(Connection& connection, const Completion& completion) {
    --busy_;
    Record(completion);
    if (plan_.mode == LoopMode::kClosed) {
        const size_t slot = connection.Slot();
        if (completion.failure == Failure::kConnect && !stopping_) {
            asio::steady_timer& timer = *retry_timers_[slot];
            timer.expires_after(kConnectRetryDelay);
            timer.async_wait([this, slot](const boost::system::error_code&) { IssueNext(slot); });
        } else {
            IssueNext(slot);
        }
    } else {
        if (stopping_) connection.Close();
        (connection.Open() ? idle_ : closed_).push_back(&connection);
        Pump();
    }
    FinishIfIdle();
}

void Worker::Record(const Completion& completion) {
    last_done_ = std::max(last_done_, completion.done);
    if (completion.intended < plan_.measure_start) return;  // warm-up
    const size_t second = SecondOf(completion.done);
    if (completion.failure) {
        result_.RecordFailure(*completion.failure, second);
    } else {
        result_.RecordAnswer(completion.status, completion.done - completion.intended, second);
    }
}

bool Worker::TakeBudget(Clock::time_point intended) {
    if (plan_.max_requests == 0 || intended < plan_.measure_start) return true;
    return plan_.issued->fetch_add(1, std::memory_order_relaxed) < plan_.max_requests;
}

size_t Worker::SecondOf(Clock::time_point done) const {
    if (done <= plan_.measure_start) return 0;
    return static_cast<size_t>(
        std::chrono::duration_cast<std::chrono::seconds>(done - plan_.measure_start).count());
}

void Worker::WatchControl() {
    const Clock::time_point now = Clock::now();
    Clock::time_point next = now + kControlInterval;
    if (!stopping_ && plan_.deadline < next) next = plan_.deadline;
    control_.expires_at(next);
    control_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || finished_) return;
        const bool stop_requested = plan_.stop != nullptr && plan_.stop->load();
        if (stop_requested || Clock::now() >= plan_.deadline) Stop();
        if (!finished_) WatchControl();
    });
}

void Worker::Stop() {
    if (stopping_) return;
    stopping_ = true;
    scheduling_ = false;
    stopped_at_ = Clock::now();
    schedule_.cancel();
    if (plan_.mode == LoopMode::kOpen) {
        // Due but never sent: the target fell behind the rate. Counted, not hidden.
        for (const Clock::time_point due : queue_) {
            if (due >= plan_.measure_start) {
                result_.RecordFailure(Failure::kUnsent, SecondOf(stopped_at_));
            }
        }
        queue_.clear();
        for (Connection* connection : idle_) {
            connection->Close();
            closed_.push_back(connection);
        }
        idle_.clear();
    } else {
        for (const auto& timer : retry_timers_) timer->cancel();
    }
    FinishIfIdle();
}

void Worker::FinishIfIdle() {
    if (finished_ || busy_ > 0) return;
    const bool done =
        plan_.mode == LoopMode::kClosed ? live_slots_ == 0 : !scheduling_ && queue_.empty();
    if (!done) return;
    finished_ = true;
    control_.cancel();
    schedule_.cancel();
    for (const auto& connection : connections_) connection->Close();
}

void Worker::IssueNext(size_t slot) {
    Connection& connection = *connections_[slot];
    const Clock::time_point now = Clock::now();
    if (stopping_ || now >= plan_.deadline || !TakeBudget(now)) {
        connection.Close();
        --live_slots_;
        if (now >= plan_.deadline) Stop();
        FinishIfIdle();
        return;
    }
    ++busy_;
    connection.Send(now);
}

void Worker::ScheduleTick() {
    if (next_due_ >= plan_.deadline) {
        scheduling_ = false;
        return;
    }
    schedule_.expires_at(next_due_);
    schedule_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && !stopping_) OnTick();
    });
}

void Worker::OnTick() {
    const Clock::time_point now = Clock::now();
    // Everything due by now, in one go: a late timer must not thin out the schedule.
    while (next_due_ <= now) {
        if (next_due_ >= plan_.deadline || !TakeBudget(next_due_)) {
            scheduling_ = false;
            break;
        }
        queue_.push_back(next_due_);
        ++next_index_;
        next_due_ = plan_.start + plan_.offset +
                    std::chrono::nanoseconds(static_cast<int64_t>(
                        std::llround(static_cast<double>(next_index_) * plan_.interval_ns)));
    }
    Pump();
    if (scheduling_) ScheduleTick();
    FinishIfIdle();
}

void Worker::Pump() {
    while (!queue_.empty()) {
        Connection* connection = FreeConnection();
        if (connection == nullptr) break;
        const Clock::time_point due = queue_.front();
        queue_.pop_front();
        ++busy_;
        connection->Send(due);
    }
    result_.max_queue = std::max<uint64_t>(result_.max_queue, queue_.size());
}

Connection* Worker::FreeConnection() {
    // Most recently used first: its socket is warm, the others may idle out.
    for (auto* pool : {&idle_, &closed_}) {
        if (!pool->empty()) {
            Connection* connection = pool->back();
            pool->pop_back();
            return connection;
        }
    }
    if (connections_.size() < plan_.connections) {
        connections_.push_back(
            std::make_unique<Connection>(io_, target_, *this, connections_.size()));
        return connections_.back().get();
    }
    return nullptr;
}

}  // namespace orderflow::load::impl
