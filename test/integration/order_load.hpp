// Continuous order load for the fault tests (broker restart, node loss): client threads
// posting one-widget orders to one or more ingress replicas until stopped, recording every
// answer with its time, so a test can count what was accepted before, during and after a
// fault.
//
// Threading: each client thread posts and appends to the answer list under the mutex; the
// test's thread reads counts and copies through the same mutex. Stop() joins the clients.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace orderflow::test {

using LoadClock = std::chrono::steady_clock;

struct OrderAnswer {
    int status = 0;
    std::string user;  // unique per request: finds the request of an order in the projection
    std::string order_id;
    std::string code;     // error code of a non-202
    std::string details;  // "not connected to the broker" unless the publish was in flight
    bool retry_after = false;
    LoadClock::time_point at;  // when the answer came
    LoadClock::duration latency{};

    // A 503 for a publish handed to the broker: its outcome is unknown to the client.
    bool InFlight() const { return status != 202 && details != "not connected to the broker"; }
};

class OrderLoad final {
  public:
    struct Options {
        std::vector<uint16_t> ports;  // ingress replicas, used in turn
        int threads = 1;
        std::string user_prefix = "load";  // users are <prefix>-<thread>-<n>
        // Pauses after each answer: a steady stream rather than a flood, and a client that
        // backs off a little after an error.
        std::chrono::milliseconds pause_after_accepted{0};
        std::chrono::milliseconds pause_after_error{0};
    };
    explicit OrderLoad(Options options);
    ~OrderLoad();
    OrderLoad(const OrderLoad&) = delete;
    OrderLoad& operator=(const OrderLoad&) = delete;

    void Stop();
    // 202s answered at or after `since`.
    size_t AcceptedSince(LoadClock::time_point since = {});
    std::vector<OrderAnswer> Answers();

  private:
    void Client(int thread);

    Options options_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::vector<OrderAnswer> answers_;
    std::vector<std::thread> threads_;
};

}  // namespace orderflow::test
