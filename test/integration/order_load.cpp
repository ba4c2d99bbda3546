// Continuous order load for the fault tests; see order_load.hpp.
#include "order_load.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "support.hpp"

namespace orderflow::test {

OrderLoad::OrderLoad(Options options) : options_(std::move(options)) {
    for (int t = 0; t < options_.threads; ++t) threads_.emplace_back([this, t] { Client(t); });
}

OrderLoad::~OrderLoad() { Stop(); }

void OrderLoad::Stop() {
    stop_ = true;
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
}

void OrderLoad::Client(int thread) {
    const auto& ports = options_.ports;
    for (int i = 0; !stop_; ++i) {
        OrderAnswer answer;
        answer.user = fmt::format("{}-{}-{}", options_.user_prefix, thread, i);
        const auto port = ports[static_cast<size_t>(thread + i) % ports.size()];
        const auto sent = LoadClock::now();
        auto result = PostOrder(port, answer.user, {{"widget", 1}});
        answer.at = LoadClock::now();
        answer.latency = answer.at - sent;
        answer.status = result.status;
        if (result.status == 202) {
            answer.order_id = JsonField(result.body, "order_id");
        } else {
            answer.code = JsonField(result.body, "code");
            answer.details = JsonField(result.body, "details");
            answer.retry_after = result.headers.contains("retry-after");
        }
        const auto pause =
            result.status == 202 ? options_.pause_after_accepted : options_.pause_after_error;
        {
            std::lock_guard lock(mutex_);
            answers_.push_back(std::move(answer));
        }
        if (pause.count() > 0) std::this_thread::sleep_for(pause);
    }
}

size_t OrderLoad::AcceptedSince(LoadClock::time_point since) {
    std::lock_guard lock(mutex_);
    return static_cast<size_t>(std::count_if(answers_.begin(), answers_.end(), [&](auto& a) {
        return a.status == 202 && a.at >= since;
    }));
}

std::vector<OrderAnswer> OrderLoad::Answers() {
    std::lock_guard lock(mutex_);
    return answers_;
}

}  // namespace orderflow::test
